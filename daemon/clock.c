#include "clock.h"

#include <errno.h>
#include <time.h>

int64_t
clock_wall_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void
clock_init(struct clock *clock, bool test, int64_t start_ms)
{
    clock->test = test;
    clock->test_ms = start_ms;
}

int64_t
clock_now_ms(const struct clock *clock)
{
    return clock->test ? clock->test_ms : clock_wall_ms();
}

int
clock_set(struct clock *clock, int64_t unix_ms)
{
    if (!clock->test)
        return -EPERM;
    if (unix_ms < clock->test_ms)
        return -EINVAL;
    clock->test_ms = unix_ms;
    return 0;
}
