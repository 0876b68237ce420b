/*
 * clock: the daemon's one place that reads the time of day.
 *
 * Everything else takes times as arguments, so that the pure modules stay
 * pure.  A daemon started with --test-clock runs on a test clock instead: it
 * stands still until a client sets or advances it through the API ("clock"
 * op), so tests run a year of schedules in seconds.  The test clock is for
 * tests only; a daemon on the real clock refuses to have it moved.
 */
#ifndef CAREHUB_CLOCK_H
#define CAREHUB_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct clock {
    bool test;       /* a test clock, moved only through clock_set() */
    int64_t test_ms; /* its time */
};

/* Milliseconds since the Unix epoch, from the system's real-time clock. */
int64_t clock_wall_ms(void);

/* A real clock, or a test clock standing at start_ms. */
void clock_init(struct clock *clock, bool test, int64_t start_ms);

/* The daemon's time now: the test clock's when there is one, else the wall clock's. */
int64_t clock_now_ms(const struct clock *clock);

/*
 * Moves a test clock to unix_ms.  Returns 0; -EPERM on a real clock; -EINVAL
 * when unix_ms is earlier than the test clock's time (it only moves forward,
 * as time does).
 */
int clock_set(struct clock *clock, int64_t unix_ms);

#endif
