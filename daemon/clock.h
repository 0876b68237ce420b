/*
 * clock: the daemon's one place that reads the time of day.
 *
 * Everything else takes times as arguments, so that the pure modules stay
 * pure and a controllable clock for tests can later replace this one.
 */
#ifndef CAREHUB_CLOCK_H
#define CAREHUB_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch, from the system's real-time clock. */
int64_t clock_wall_ms(void);

#endif
