/*
 * confread: reading one section of carehubd.conf from an already parsed
 * libconfig tree, reporting every mistake as "file:line: path: reason".
 *
 * The modules that own a section (kinds.c for "schedule", "kinds" and
 * "courses"; metrics.c for "kpi" and "metrics") walk their settings with
 * these helpers.  Each helper checks one setting; when something is wrong it
 * adds one error to the caller's struct config_errors (through
 * config_add_error()) and returns a value that says so, and the walk goes on,
 * so that one pass finds every mistake in the file.  confread_result() then
 * says whether the section may be used.  Nothing here logs.
 *
 * A setting is named in messages by its path in the file, the way config.c
 * names its keys: "schedule.send_time", "kinds[3].name".  Callers build paths
 * in buffers of CONFREAD_PATH_SIZE bytes; a path too long for one is cut
 * short, never overrun.
 */
#ifndef CAREHUB_CONFREAD_H
#define CAREHUB_CONFREAD_H

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

struct config_errors;

/* Bytes in the path of one setting, as messages name it. */
#define CONFREAD_PATH_SIZE 256

/*
 * What one load carries while it walks the file; the caller's, usually on
 * its stack, set up as { file, errors, 0, false }.  file (borrowed) names
 * settings that have no source file of their own; errors (borrowed) receives
 * every error.
 */
struct confread {
    const char *file;
    struct config_errors *errors;
    int failures;       /* errors reported so far */
    bool out_of_memory; /* set by any helper, or by the caller, when memory ran out */
};

/*
 * How the load went: -ENOMEM (with an "out of memory" error added, on no
 * line) when memory ran out, else -EINVAL when any error was reported, else 0.
 */
int confread_result(struct confread *reader);

/*
 * Adds "file:line: path: reason" for the setting at, reason formatted from
 * fmt; file is the file that holds at (an @include'd file has its own name),
 * and with at NULL it is the reader's file, on no line.  Counts a failure.
 */
void confread_fail(struct confread *reader, const config_setting_t *at, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes "parent.key" into path, of size bytes (cut short, never overrun, when too long). */
void confread_path_join(char *path, size_t size, const char *parent, const char *key);

/*
 * Writes the path of entry, the index'th (from 0) of the list at list_path,
 * into path, of size bytes: "LIST.NAME" when entry is a group whose "name"
 * is a string that is_name accepts, else "LIST[POSITION]" counted from 1 as
 * people count.
 */
void confread_entry_path(const config_setting_t *entry, const char *list_path, int index,
                         bool (*is_name)(const char *text), char *path, size_t size);

/* The line of the file that holds setting, counted from 1. */
int confread_line(const config_setting_t *setting);

/*
 * A copy of text, which the caller must free(); NULL, with the reader's
 * out_of_memory set, when memory ran out.
 */
char *confread_copy_text(struct confread *reader, const char *text);

/*
 * True when setting is of type (a CONFIG_TYPE_ ...; a 64-bit integer counts as
 * CONFIG_TYPE_INT); else reports "must be EXPECTED, not a ..." and is false.
 * expected says in words what was wanted ("a string", "a group { ... }").
 */
bool confread_check_type(struct confread *reader, const config_setting_t *setting, const char *path,
                         int type, const char *expected);

/* True when setting is a list, in [ ] or ( ); else reports it as confread_check_type() does. */
bool confread_check_sequence(struct confread *reader, const config_setting_t *setting,
                             const char *path, const char *expected);

/*
 * How many entries of the list setting to read: its length, cut short to max
 * when longer, which is reported as "has N ENTRIES; at most MAX are allowed"
 * (entries names what it holds in the plural: "entries", "steps").  -1 when
 * setting is not a list, reported as confread_check_sequence() does.
 */
int confread_list_length(struct confread *reader, const config_setting_t *setting, const char *path,
                         const char *expected, int max, const char *entries);

/*
 * Reports "unknown key" for every member of group whose name is not in
 * known, a NULL-terminated list; path is the group's.
 */
void confread_check_keys(struct confread *reader, const config_setting_t *group, const char *path,
                         const char *const *known);

/*
 * The member key of group (whose path is group_path), with the member's path
 * written into path, of size bytes; NULL when it is absent, which is
 * reported as "required key is missing", at the group's line, when required.
 */
config_setting_t *confread_member(struct confread *reader, config_setting_t *group,
                                  const char *group_path, const char *key, bool required,
                                  char *path, size_t size);

/*
 * The text of a string setting, borrowed from the libconfig tree; NULL
 * (reported) when the setting is not a string or is empty.
 */
const char *confread_text(struct confread *reader, const config_setting_t *setting,
                          const char *path);

/* Reads an integer setting within min..max into *out; false (reported) otherwise. */
bool confread_int(struct confread *reader, const config_setting_t *setting, const char *path,
                  int min, int max, int *out);

/*
 * Reads the optional integer member key of group, within min..max, into
 * *out, which keeps its value (the default) when the member is absent or
 * wrong (reported).
 */
void confread_int_member(struct confread *reader, config_setting_t *group, const char *group_path,
                         const char *key, int min, int max, int *out);

/*
 * The day of the week text names, 0 for Monday to 6 for Sunday, by its
 * short or full English name in any case ("Mon", "monday"); -1 when it names
 * none.
 */
int confread_weekday(const char *text);

/* The full English name of day (0 for Monday to 6 for Sunday): "Monday". */
const char *confread_weekday_name(int day);

/*
 * Writes "a", "a and b" or "a, b and c" from the count words into buf, of
 * size bytes (cut short when too long), for messages.
 */
void confread_join_words(const char *const *words, int count, char *buf, size_t size);

#endif
