#include "confread.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

static const char *const weekday_names[7][2] = {
    {"Mon", "Monday"}, {"Tue", "Tuesday"},  {"Wed", "Wednesday"}, {"Thu", "Thursday"},
    {"Fri", "Friday"}, {"Sat", "Saturday"}, {"Sun", "Sunday"}};

int
confread_result(struct confread *reader)
{
    if (reader->out_of_memory) {
        config_add_error(reader->errors, reader->file, 0, "out of memory");
        return -ENOMEM;
    }
    return reader->failures > 0 ? -EINVAL : 0;
}

void
confread_fail(struct confread *reader, const config_setting_t *at, const char *path,
              const char *fmt, ...)
{
    char reason[320];
    const char *file = reader->file;
    int line = 0;
    va_list ap;

    if (at != NULL) {
        if (config_setting_source_file(at) != NULL)
            file = config_setting_source_file(at); /* an @include'd file */
        line = confread_line(at);
    }
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    reader->failures++;
    config_add_error(reader->errors, file, line, "%s: %s", path, reason);
}

void
confread_path_join(char *path, size_t size, const char *parent, const char *key)
{
    int written = snprintf(path, size, "%s.%s", parent, key);

    (void)written; /* a path too long for messages is cut short, which is harmless */
}

void
confread_entry_path(const config_setting_t *entry, const char *list_path, int index,
                    bool (*is_name)(const char *text), char *path, size_t size)
{
    const config_setting_t *name = NULL;

    if (config_setting_is_group(entry))
        name = config_setting_get_member(entry, "name");
    if (name != NULL && config_setting_type(name) == CONFIG_TYPE_STRING &&
        is_name(config_setting_get_string(name)))
        confread_path_join(path, size, list_path, config_setting_get_string(name));
    else
        snprintf(path, size, "%s[%d]", list_path, index + 1);
}

int
confread_line(const config_setting_t *setting)
{
    return (int)config_setting_source_line(setting);
}

char *
confread_copy_text(struct confread *reader, const char *text)
{
    char *copy = strdup(text);

    if (copy == NULL)
        reader->out_of_memory = true;
    return copy;
}

bool
confread_check_type(struct confread *reader, const config_setting_t *setting, const char *path,
                    int type, const char *expected)
{
    int actual = config_setting_type(setting);

    if (actual == CONFIG_TYPE_INT64)
        actual = CONFIG_TYPE_INT;
    if (actual == type)
        return true;
    confread_fail(reader, setting, path, "must be %s, not %s", expected,
                  config_type_name(config_setting_type(setting)));
    return false;
}

bool
confread_check_sequence(struct confread *reader, const config_setting_t *setting, const char *path,
                        const char *expected)
{
    if (config_setting_is_array(setting) || config_setting_is_list(setting))
        return true;
    confread_fail(reader, setting, path, "must be %s, not %s", expected,
                  config_type_name(config_setting_type(setting)));
    return false;
}

int
confread_list_length(struct confread *reader, const config_setting_t *setting, const char *path,
                     const char *expected, int max, const char *entries)
{
    int length;

    if (!confread_check_sequence(reader, setting, path, expected))
        return -1;
    length = config_setting_length(setting);
    if (length > max) {
        confread_fail(reader, setting, path, "has %d %s; at most %d are allowed", length, entries,
                      max);
        length = max;
    }
    return length;
}

void
confread_check_keys(struct confread *reader, const config_setting_t *group, const char *path,
                    const char *const *known)
{
    int count = config_setting_length(group);

    for (int i = 0; i < count; i++) {
        const config_setting_t *member = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(member);
        bool found = false;

        for (int k = 0; known[k] != NULL && name != NULL && !found; k++)
            found = strcmp(known[k], name) == 0;
        if (!found) {
            char member_path[CONFREAD_PATH_SIZE];
            confread_path_join(member_path, sizeof(member_path), path, name ? name : "?");
            confread_fail(reader, member, member_path, "unknown key");
        }
    }
}

config_setting_t *
confread_member(struct confread *reader, config_setting_t *group, const char *group_path,
                const char *key, bool required, char *path, size_t size)
{
    config_setting_t *member = config_setting_get_member(group, key);

    confread_path_join(path, size, group_path, key);
    if (member == NULL && required)
        confread_fail(reader, group, path, "required key is missing");
    return member;
}

const char *
confread_text(struct confread *reader, const config_setting_t *setting, const char *path)
{
    const char *text;

    if (!confread_check_type(reader, setting, path, CONFIG_TYPE_STRING, "a string"))
        return NULL;
    text = config_setting_get_string(setting);
    if (text[0] == '\0') {
        confread_fail(reader, setting, path, "must not be empty");
        return NULL;
    }
    return text;
}

bool
confread_int(struct confread *reader, const config_setting_t *setting, const char *path, int min,
             int max, int *out)
{
    long long value;

    if (!confread_check_type(reader, setting, path, CONFIG_TYPE_INT, "an integer"))
        return false;
    value = config_setting_get_int64(setting);
    if (value < min || value > max) {
        confread_fail(reader, setting, path, "%lld is out of range (%d to %d)", value, min, max);
        return false;
    }
    *out = (int)value;
    return true;
}

void
confread_int_member(struct confread *reader, config_setting_t *group, const char *group_path,
                    const char *key, int min, int max, int *out)
{
    char path[CONFREAD_PATH_SIZE];
    config_setting_t *setting =
        confread_member(reader, group, group_path, key, false, path, sizeof(path));

    if (setting != NULL)
        confread_int(reader, setting, path, min, max, out);
}

int
confread_weekday(const char *text)
{
    for (int day = 0; day < 7; day++)
        if (strcasecmp(text, weekday_names[day][0]) == 0 ||
            strcasecmp(text, weekday_names[day][1]) == 0)
            return day;
    return -1;
}

const char *
confread_weekday_name(int day)
{
    return weekday_names[day][1];
}

void
confread_join_words(const char *const *words, int count, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < count && used < size; i++) {
        const char *separator = i == 0 ? "" : i == count - 1 ? " and " : ", ";
        int n = snprintf(buf + used, size - used, "%s%s", separator, words[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}
