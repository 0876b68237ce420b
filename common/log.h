/*
 * log: the one logging module of carehubd and carehub-notify.
 *
 * Under systemd (JOURNAL_STREAM set, or stderr not a terminal with
 * INVOCATION_ID set) each line starts with a journald priority prefix such as
 * "<3>"; in the foreground each line starts with a local timestamp and the
 * program's name.  Only the programs' top layers log; modules return errors
 * instead.
 */
#ifndef CAREHUB_LOG_H
#define CAREHUB_LOG_H

#include <syslog.h>

/*
 * Chooses the line format from the environment and sets the lowest level
 * shown; program (borrowed for the life of the process) names the program in
 * foreground lines.
 */
void log_init(const char *program, int max_level);

/* Changes the lowest level shown (LOG_ERR ... LOG_DEBUG). */
void log_set_level(int max_level);

/* Writes one line at the given syslog level; a trailing newline is added. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
