#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/*
 * The logger's settings are process-wide by nature (there is one stderr);
 * they are written at start-up, from the loop thread, before any other thread
 * exists.
 */
static struct {
    bool journal;
    int max_level;
    const char *program;
} logger = {false, LOG_INFO, "carehubd"};

static const char *const level_names[] = {"emerg", "alert", "crit", "error",
                                          "warn",  "note",  "info", "debug"};

void
log_init(const char *program, int max_level)
{
    logger.journal = getenv("JOURNAL_STREAM") != NULL;
    logger.max_level = max_level;
    logger.program = program;
}

void
log_set_level(int max_level)
{
    logger.max_level = max_level;
}

void
log_msg(int level, const char *fmt, ...)
{
    char line[2048];
    int used = 0;
    va_list ap;

    if (level > logger.max_level)
        return;
    if (level < LOG_EMERG || level > LOG_DEBUG)
        level = LOG_ERR;
    if (logger.journal) {
        used = snprintf(line, sizeof(line), "<%d>", level);
    } else {
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        localtime_r(&now.tv_sec, &tm);
        used = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
        used +=
            snprintf(line + used, sizeof(line) - (size_t)used,
                     ".%03ld %s %s: ", now.tv_nsec / 1000000, logger.program, level_names[level]);
    }
    va_start(ap, fmt);
    vsnprintf(line + used, sizeof(line) - (size_t)used, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
