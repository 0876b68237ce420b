#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "confread.h"

/*
 * Messages name the setting by its path in the file, as kinds.c does: a
 * metric by its own name once that name is valid ("metrics.length_of_stay.
 * target"), anything else in a list by its position counted from 1
 * ("metrics[3]", "metrics.length_of_stay.benchmarks[2].value").  Benchmarks
 * are always named by position: several may share one name.
 */

/* The most observations a period may be required to hold before it is judged. */
#define MIN_OBSERVATIONS_MAX 1000000

/* The most decimals of a percentile ("p99.999999"). */
#define PERCENTILE_DECIMALS 6

/* What every metric needs from outside its own group. */
struct context {
    const struct kinds *kinds; /* derived metrics name these */
    int week_start;            /* for benchmarks' "at" labels of a week */
    int role_count;            /* kpi.alert_roles, every metric's default */
    char roles[METRIC_MAX_ROLES][KIND_NAME_MAX + 1];
};

/* The keys each group may hold; any other is an unknown key. */
static const char *const kpi_keys[] = {"week_starts", "retention_days", "future_minutes",
                                       "flush_ms",    "alert_roles",    NULL};
static const char *const metric_keys[] = {"name",        "title",
                                          "unit",        "aggregate",
                                          "periods",     "alert_period",
                                          "direction",   "target",
                                          "warning",     "critical",
                                          "min",         "max",
                                          "hysteresis",  "min_observations",
                                          "alert_roles", "benchmarks",
                                          "derived",     "kinds",
                                          NULL};
static const char *const benchmark_keys[] = {"name", "value", "period", "at", NULL};

/* The thresholds, in the order they must run from good to bad. */
static const char *const threshold_keys[] = {"target", "warning", "critical"};

static const struct {
    const char *name;
    enum metric_aggregate aggregate;
} aggregates[] = {{"count", AGGREGATE_COUNT}, {"sum", AGGREGATE_SUM}, {"mean", AGGREGATE_MEAN},
                  {"min", AGGREGATE_MIN},     {"max", AGGREGATE_MAX}, {"last", AGGREGATE_LAST}};

/* What each derived measure implies: how its per-person values combine, which way is better. */
static const struct {
    const char *name;
    enum metric_derived derived;
    enum metric_aggregate aggregate;
    enum metric_direction direction;
    const char *unit;
} derivations[] = {
    {"compliance", DERIVED_COMPLIANCE, AGGREGATE_MEAN, DIRECTION_HIGHER, "%"}, /* of 0 or 100 */
    {"overdue", DERIVED_OVERDUE, AGGREGATE_SUM, DIRECTION_LOWER, ""},
    {"days_overdue", DERIVED_DAYS_OVERDUE, AGGREGATE_MEAN, DIRECTION_LOWER, "days"}};

/* How a benchmark's "at" is written, for each period type. */
static const struct {
    const char *what;
    const char *example;
} label_forms[PERIOD_TYPE_COUNT] = {{"a day", "2026-11-22"},
                                    {"a week", "2026-11-16"},
                                    {"a month", "2026-11"},
                                    {"a quarter", "2026-Q4"},
                                    {"a year", "2026"}};

/* Reads a number, whole or with a fraction, into *out; false (reported) otherwise. */
static bool
read_number(struct confread *reader, const config_setting_t *setting, const char *path, double *out)
{
    double value;

    switch (config_setting_type(setting)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        value = (double)config_setting_get_int64(setting);
        break;
    case CONFIG_TYPE_FLOAT:
        value = config_setting_get_float(setting);
        break;
    default:
        confread_fail(reader, setting, path, "must be a number, not %s",
                      config_type_name(config_setting_type(setting)));
        return false;
    }
    if (!isfinite(value)) {
        confread_fail(reader, setting, path, "is too large to be a number");
        return false;
    }
    *out = value;
    return true;
}

/* The optional number member key of group into *out; false when absent or not a number. */
static bool
read_number_member(struct confread *reader, config_setting_t *group, const char *group_path,
                   const char *key, config_setting_t **setting, char *path, size_t size,
                   double *out)
{
    *setting = confread_member(reader, group, group_path, key, false, path, size);
    return *setting != NULL && read_number(reader, *setting, path, out);
}

/* A metric or benchmark name: 1 to KIND_NAME_MAX bytes of letters, digits, _, . and -. */
static bool
is_valid_name(const char *text)
{
    size_t length = strlen(text);

    if (length == 0 || length > KIND_NAME_MAX)
        return false;
    for (const char *p = text; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

/*
 * Reads the required "name" of group (path, such as "metrics[2]") into
 * name.  Returns false (reported) when it is missing or not a valid name.
 */
static bool
read_name(struct confread *reader, config_setting_t *group, const char *group_path,
          const char *example, char name[KIND_NAME_MAX + 1])
{
    char path[CONFREAD_PATH_SIZE];
    config_setting_t *setting =
        confread_member(reader, group, group_path, "name", true, path, sizeof(path));
    const char *text;

    if (setting == NULL || (text = confread_text(reader, setting, path)) == NULL)
        return false;
    if (!is_valid_name(text)) {
        confread_fail(
            reader, setting, path,
            "\"%s\" is not a valid name (use 1 to %d letters, digits, _, . and -, like \"%s\")",
            text, KIND_NAME_MAX, example);
        return false;
    }
    memcpy(name, text, strlen(text) + 1);
    return true;
}

/* Writes the names of the periods in the set, "week, month and quarter", into buf. */
static void
join_periods(unsigned periods, char *buf, size_t size)
{
    const char *names[PERIOD_TYPE_COUNT];
    int count = 0;

    for (int type = 0; type < PERIOD_TYPE_COUNT; type++)
        if (periods & (1u << type))
            names[count++] = period_type_name((enum period_type)type);
    confread_join_words(names, count, buf, size);
}

/* Reads a period type name; -1 (reported) when it is not one. */
static int
read_period_type(struct confread *reader, const config_setting_t *setting, const char *path)
{
    const char *text = confread_text(reader, setting, path);
    int type;

    if (text == NULL)
        return -1;
    type = period_type_parse(text);
    if (type < 0)
        confread_fail(reader, setting, path,
                      "\"%s\" is not a period (write \"day\", \"week\", \"month\", \"quarter\" or "
                      "\"year\")",
                      text);
    return type;
}

/* Reads a period type that must be one of the metric's periods; -1 (reported) otherwise. */
static int
read_metric_period(struct confread *reader, const config_setting_t *setting, const char *path,
                   unsigned periods)
{
    int type = read_period_type(reader, setting, path);
    char list[64];

    if (type < 0 || (periods & (1u << type)))
        return type;
    join_periods(periods, list, sizeof(list));
    confread_fail(reader, setting, path, "\"%s\" is not one of this metric's periods (%s)",
                  config_setting_get_string(setting), list);
    return -1;
}

/*
 * Reads a list of names into names and *count: roles (any text up to
 * KIND_NAME_MAX bytes), or, when kinds is set, review kinds, each the name
 * of a kind in kinds or "training" for the training kind, whatever its name.
 */
static void
read_names(struct confread *reader, const config_setting_t *setting, const char *path, int max,
           const struct kinds *kinds, bool are_kinds, char (*names)[KIND_NAME_MAX + 1], int *count)
{
    int length;

    length = confread_list_length(reader, setting, path, "a list of strings like [\"a\", \"b\"]",
                                  max, "entries");
    if (length < 0)
        return;
    if (length == 0 && are_kinds) {
        confread_fail(reader, setting, path,
                      "must name at least one kind of review, like [\"supervision\"]");
        return;
    }
    for (int i = 0; i < length; i++) {
        const config_setting_t *item = config_setting_get_elem(setting, (unsigned)i);
        char item_path[CONFREAD_PATH_SIZE];
        const char *text, *name;
        bool repeated = false;

        snprintf(item_path, sizeof(item_path), "%s[%d]", path, i + 1);
        text = confread_text(reader, item, item_path);
        if (text == NULL)
            continue;
        name = text;
        if (are_kinds) {
            const struct kind *kind = kinds ? kinds_find(kinds, text) : NULL;
            if (kind == NULL && strcmp(text, "training") == 0 && kinds && kinds->training) {
                kind = kinds->training;
            } else if (kind == NULL && strcmp(text, "training") == 0) {
                confread_fail(
                    reader, item, item_path,
                    "\"training\" means the kind with training = true, and no kind has it");
                continue;
            } else if (kind == NULL) {
                confread_fail(reader, item, item_path,
                              "\"%s\" is not a kind of review (name one of the kinds in kinds, or "
                              "\"training\")",
                              text);
                continue;
            }
            name = kind->name;
        } else if (strlen(text) > KIND_NAME_MAX) {
            confread_fail(reader, item, item_path, "\"%s\" is longer than %d bytes", text,
                          KIND_NAME_MAX);
            continue;
        }
        for (int j = 0; j < *count && !repeated; j++)
            repeated = strcmp(names[j], name) == 0;
        if (repeated) {
            confread_fail(reader, item, item_path, "\"%s\" is listed twice", text);
            continue;
        }
        memcpy(names[*count], name, strlen(name) + 1);
        (*count)++;
    }
}

static void
read_kpi(struct confread *reader, config_setting_t *kpi, struct metrics *out,
         struct context *context)
{
    char path[CONFREAD_PATH_SIZE];
    config_setting_t *setting;
    const char *text;

    if (!confread_check_type(reader, kpi, "kpi", CONFIG_TYPE_GROUP, "a group { ... }"))
        return;
    confread_check_keys(reader, kpi, "kpi", kpi_keys);
    setting = confread_member(reader, kpi, "kpi", "week_starts", false, path, sizeof(path));
    if (setting != NULL && (text = confread_text(reader, setting, path)) != NULL) {
        int day = confread_weekday(text);
        if (day < 0)
            confread_fail(reader, setting, path,
                          "\"%s\" is not a day of the week (write \"monday\", \"tuesday\" ... or "
                          "\"sunday\")",
                          text);
        else
            out->week_start = day;
    }
    confread_int_member(reader, kpi, "kpi", "retention_days", 1, 36500, &out->retention_days);
    confread_int_member(reader, kpi, "kpi", "future_minutes", 0, 10080, &out->future_minutes);
    confread_int_member(reader, kpi, "kpi", "flush_ms", 100, 60000, &out->flush_ms);
    setting = confread_member(reader, kpi, "kpi", "alert_roles", false, path, sizeof(path));
    if (setting != NULL)
        read_names(reader, setting, path, METRIC_MAX_ROLES, NULL, false, context->roles,
                   &context->role_count);
}

/*
 * Parses a percentile "pN" or "pN.N": p, digits, and optionally a point and
 * 1 to PERCENTILE_DECIMALS digits.  False when text is not of that form;
 * the range is the caller's to check.
 */
static bool
parse_percentile(const char *text, double *value)
{
    const char *p = text + 1;
    int digits = 0, decimals = 0;

    if (text[0] != 'p')
        return false;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            decimals++;
    if (digits == 0 || digits > 9 || *p != '\0' || (p[-1] == '.') || decimals > PERCENTILE_DECIMALS)
        return false;
    *value = strtod(text + 1, NULL);
    return true;
}

static void
read_aggregate(struct confread *reader, const config_setting_t *setting, const char *path,
               struct metric *metric)
{
    const char *text = confread_text(reader, setting, path);
    double percentile;

    if (text == NULL)
        return;
    for (size_t i = 0; i < sizeof(aggregates) / sizeof(aggregates[0]); i++) {
        if (strcmp(text, aggregates[i].name) == 0) {
            metric->aggregate = aggregates[i].aggregate;
            return;
        }
    }
    if (!parse_percentile(text, &percentile)) {
        confread_fail(reader, setting, path,
                      "\"%s\" is not a way to combine values (write \"count\", \"sum\", \"mean\", "
                      "\"min\", \"max\", \"last\" or a percentile like \"p90\")",
                      text);
        return;
    }
    if (percentile <= 0 || percentile >= 100) {
        confread_fail(reader, setting, path,
                      "\"%s\" is not a percentile above 0 and below 100 (like \"p50\", \"p90\" or "
                      "\"p99.9\")",
                      text);
        return;
    }
    metric->aggregate = AGGREGATE_PERCENTILE;
    metric->percentile = percentile;
}

/* Reads "periods"; returns false (reported) when the list is not usable as a whole. */
static bool
read_periods(struct confread *reader, const config_setting_t *setting, const char *path,
             struct metric *metric)
{
    unsigned periods = 0;
    int first = -1;
    int length;
    bool usable = true;

    if (!confread_check_sequence(reader, setting, path, "a list like [\"month\", \"quarter\"]"))
        return false;
    length = config_setting_length(setting);
    if (length == 0) {
        confread_fail(reader, setting, path, "must name at least one period, like [\"month\"]");
        return false;
    }
    for (int i = 0; i < length; i++) {
        const config_setting_t *item = config_setting_get_elem(setting, (unsigned)i);
        char item_path[CONFREAD_PATH_SIZE];
        int type;

        snprintf(item_path, sizeof(item_path), "%s[%d]", path, i + 1);
        type = read_period_type(reader, item, item_path);
        if (type < 0) {
            usable = false;
        } else if (periods & (1u << type)) {
            confread_fail(reader, item, item_path, "\"%s\" is listed twice",
                          config_setting_get_string(item));
            usable = false;
        } else {
            periods |= 1u << type;
            if (first < 0)
                first = type;
        }
    }
    if (!usable)
        return false;
    metric->periods = periods;
    metric->alert_period = (enum period_type)first;
    return true;
}

static void
read_direction(struct confread *reader, const config_setting_t *setting, const char *path,
               struct metric *metric, bool *given)
{
    const char *text = confread_text(reader, setting, path);

    if (text == NULL)
        return;
    if (strcmp(text, "higher") == 0) {
        metric->direction = DIRECTION_HIGHER;
    } else if (strcmp(text, "lower") == 0) {
        metric->direction = DIRECTION_LOWER;
    } else {
        confread_fail(reader, setting, path,
                      "\"%s\" is not a direction (write \"higher\" or \"lower\": which is better)",
                      text);
        return;
    }
    *given = true;
}

/*
 * Reads "derived", setting what the measure implies.  Returns its default
 * unit, or NULL (reported) when it is not one of the derived measures.
 */
static const char *
read_derived(struct confread *reader, const config_setting_t *setting, const char *path,
             struct metric *metric)
{
    const char *text = confread_text(reader, setting, path);

    if (text == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(derivations) / sizeof(derivations[0]); i++) {
        if (strcmp(text, derivations[i].name) == 0) {
            metric->derived = derivations[i].derived;
            metric->aggregate = derivations[i].aggregate;
            metric->direction = derivations[i].direction;
            return derivations[i].unit;
        }
    }
    confread_fail(
        reader, setting, path,
        "\"%s\" is not something carehubd works out (write \"compliance\", \"overdue\" or "
        "\"days_overdue\")",
        text);
    return NULL;
}

/* Writes which periods a benchmark applies to: "every period", "every quarter", "2026-Q1". */
static void
describe_benchmark(const struct metric_benchmark *benchmark, char *buf, size_t size)
{
    if (benchmark->period_type < 0)
        snprintf(buf, size, "every period");
    else if (!benchmark->has_start)
        snprintf(buf, size, "every %s", period_type_name((enum period_type)benchmark->period_type));
    else
        period_label((enum period_type)benchmark->period_type, benchmark->start_day, buf, size);
}

/* Reads one benchmark; false (reported) when it is not usable. */
static bool
read_benchmark(struct confread *reader, config_setting_t *entry, const char *path,
               const struct metric *metric, int week_start, struct metric_benchmark *benchmark)
{
    char member_path[CONFREAD_PATH_SIZE];
    config_setting_t *member, *at;
    bool usable = true;

    if (!confread_check_type(reader, entry, path, CONFIG_TYPE_GROUP, "a group { ... }"))
        return false;
    confread_check_keys(reader, entry, path, benchmark_keys);
    usable = read_name(reader, entry, path, "national", benchmark->name);
    member = confread_member(reader, entry, path, "value", true, member_path, sizeof(member_path));
    if (member == NULL || !read_number(reader, member, member_path, &benchmark->value))
        usable = false;
    benchmark->period_type = -1;
    member =
        confread_member(reader, entry, path, "period", false, member_path, sizeof(member_path));
    if (member != NULL) {
        benchmark->period_type = read_metric_period(reader, member, member_path, metric->periods);
        if (benchmark->period_type < 0)
            usable = false;
    }
    at = confread_member(reader, entry, path, "at", false, member_path, sizeof(member_path));
    if (at == NULL)
        return usable;
    if (member == NULL) {
        confread_fail(
            reader, at, member_path,
            "needs period to say which kind of period it names (like period = \"quarter\"; "
            "at = \"2026-Q1\")");
        return false;
    }
    if (!confread_check_type(reader, at, member_path, CONFIG_TYPE_STRING, "a string"))
        return false;
    if (benchmark->period_type < 0)
        return false;
    if (period_parse_label((enum period_type)benchmark->period_type, week_start,
                           config_setting_get_string(at), &benchmark->start_day) < 0) {
        confread_fail(reader, at, member_path, "\"%s\" is not %s (write it like \"%s\")",
                      config_setting_get_string(at), label_forms[benchmark->period_type].what,
                      label_forms[benchmark->period_type].example);
        return false;
    }
    benchmark->has_start = true;
    return usable;
}

static void
read_benchmarks(struct confread *reader, const config_setting_t *setting, const char *path,
                int week_start, struct metric *metric)
{
    int length;
    int lines[METRIC_MAX_BENCHMARKS];

    length =
        confread_list_length(reader, setting, path,
                             "a list of benchmarks ( { name = \"national\"; value = 5.8; }, ... )",
                             METRIC_MAX_BENCHMARKS, "benchmarks");
    if (length < 0)
        return;
    for (int i = 0; i < length; i++) {
        config_setting_t *entry = config_setting_get_elem(setting, (unsigned)i);
        struct metric_benchmark *benchmark = &metric->benchmarks[metric->benchmark_count];
        char entry_path_text[CONFREAD_PATH_SIZE];
        bool repeated = false;

        snprintf(entry_path_text, sizeof(entry_path_text), "%s[%d]", path, i + 1);
        if (!read_benchmark(reader, entry, entry_path_text, metric, week_start, benchmark)) {
            memset(benchmark, 0, sizeof(*benchmark));
            continue;
        }
        for (int j = 0; j < metric->benchmark_count && !repeated; j++) {
            const struct metric_benchmark *other = &metric->benchmarks[j];
            if (strcmp(other->name, benchmark->name) == 0 &&
                other->period_type == benchmark->period_type &&
                other->has_start == benchmark->has_start &&
                (!other->has_start || other->start_day == benchmark->start_day)) {
                char which[PERIOD_LABEL_SIZE + 16];
                describe_benchmark(benchmark, which, sizeof(which));
                confread_fail(reader, entry, entry_path_text,
                              "\"%s\" for %s is already given on line %d", benchmark->name, which,
                              lines[j]);
                repeated = true;
            }
        }
        if (repeated) {
            memset(benchmark, 0, sizeof(*benchmark));
            continue;
        }
        lines[metric->benchmark_count++] = confread_line(entry);
    }
}

/* True when a is a better figure than b. */
static bool
is_better(enum metric_direction direction, double a, double b)
{
    return direction == DIRECTION_LOWER ? a < b : a > b;
}

/*
 * Checks the thresholds that were read: for compliance within 0..100, else
 * within the range of one observation when the figure stays in it (not a
 * count or a sum), and, when ordered, each at least as bad as those before.
 */
static void
check_thresholds(struct confread *reader, const struct metric *metric,
                 config_setting_t *const settings[3], char paths[3][CONFREAD_PATH_SIZE],
                 bool ordered)
{
    const bool has[3] = {metric->has_target, metric->has_warning, metric->has_critical};
    const double value[3] = {metric->target, metric->warning, metric->critical};
    bool ranged = metric->derived == DERIVED_NONE && metric->has_min && metric->has_max &&
                  metric->min < metric->max && metric->aggregate != AGGREGATE_COUNT &&
                  metric->aggregate != AGGREGATE_SUM;

    for (int i = 0; i < 3; i++) {
        if (!has[i])
            continue;
        if (metric->derived == DERIVED_COMPLIANCE && (value[i] < 0 || value[i] > 100)) {
            confread_fail(reader, settings[i], paths[i],
                          "%g is outside 0 to 100 (compliance is a percentage)", value[i]);
            continue;
        }
        if (ranged && (value[i] < metric->min || value[i] > metric->max)) {
            confread_fail(reader, settings[i], paths[i],
                          "%g is outside the range of one observation (min %g to max %g)", value[i],
                          metric->min, metric->max);
            continue;
        }
        /* Against the worse of the thresholds before it: each must be at least as bad. */
        int worst = -1;
        for (int j = 0; ordered && j < i; j++)
            if (has[j] && (worst < 0 || is_better(metric->direction, value[worst], value[j])))
                worst = j;
        if (worst >= 0 && is_better(metric->direction, value[i], value[worst]))
            confread_fail(
                reader, settings[i], paths[i],
                "%s (%g) is better than the %s (%g) for a metric where %s is better; it must be "
                "%g or %s",
                threshold_keys[i], value[i], threshold_keys[worst], value[worst],
                metric->direction == DIRECTION_LOWER ? "lower" : "higher", value[worst],
                metric->direction == DIRECTION_LOWER ? "more" : "less");
    }
}

/* Reports the keys only observed metrics have ("aggregate", "min", "max") on a derived one. */
static void
refuse_on_derived(struct confread *reader, config_setting_t *setting, const char *path)
{
    static const char *const observed_only[] = {"aggregate", "min", "max"};

    for (size_t i = 0; i < sizeof(observed_only) / sizeof(observed_only[0]); i++) {
        config_setting_t *member = config_setting_get_member(setting, observed_only[i]);
        char member_path[CONFREAD_PATH_SIZE];

        if (member == NULL)
            continue;
        confread_path_join(member_path, sizeof(member_path), path, observed_only[i]);
        confread_fail(
            reader, member, member_path,
            "is not for a derived metric: carehubd works out its values from the reviews");
    }
}

static void
read_metric(struct confread *reader, config_setting_t *setting, int index,
            const struct context *context, struct metric *metric)
{
    char path[CONFREAD_PATH_SIZE], member_path[CONFREAD_PATH_SIZE];
    char threshold_paths[3][CONFREAD_PATH_SIZE];
    config_setting_t *thresholds[3] = {NULL, NULL, NULL};
    bool *has[3] = {&metric->has_target, &metric->has_warning, &metric->has_critical};
    double *value[3] = {&metric->target, &metric->warning, &metric->critical};
    config_setting_t *member, *min_setting, *max_setting;
    const char *text;
    bool derived_known = true, periods_usable = true, direction_given = false;
    int first_threshold = -1;
    const char *unit = "";

    metric->line = confread_line(setting);
    metric->aggregate = AGGREGATE_MEAN;
    metric->periods = 1u << PERIOD_MONTH;
    metric->alert_period = PERIOD_MONTH;
    metric->direction = DIRECTION_HIGHER;
    metric->min_observations = 1;
    confread_entry_path(setting, "metrics", index, is_valid_name, path, sizeof(path));
    if (!confread_check_type(reader, setting, path, CONFIG_TYPE_GROUP, "a group { ... }"))
        return;
    read_name(reader, setting, path, "length_of_stay", metric->name);
    confread_check_keys(reader, setting, path, metric_keys);
    member =
        confread_member(reader, setting, path, "title", true, member_path, sizeof(member_path));
    if (member != NULL && (text = confread_text(reader, member, member_path)) != NULL)
        metric->title = confread_copy_text(reader, text);

    member =
        confread_member(reader, setting, path, "derived", false, member_path, sizeof(member_path));
    if (member != NULL) {
        const char *derived_unit = read_derived(reader, member, member_path, metric);
        derived_known = derived_unit != NULL;
        if (derived_known)
            unit = derived_unit;
    }
    member =
        confread_member(reader, setting, path, "unit", false, member_path, sizeof(member_path));
    if (member != NULL &&
        confread_check_type(reader, member, member_path, CONFIG_TYPE_STRING, "a string"))
        unit = config_setting_get_string(member);
    metric->unit = confread_copy_text(reader, unit);

    if (metric->derived != DERIVED_NONE) {
        refuse_on_derived(reader, setting, path);
    } else {
        member = confread_member(reader, setting, path, "aggregate", false, member_path,
                                 sizeof(member_path));
        if (member != NULL)
            read_aggregate(reader, member, member_path, metric);
    }

    member =
        confread_member(reader, setting, path, "periods", false, member_path, sizeof(member_path));
    if (member != NULL)
        periods_usable = read_periods(reader, member, member_path, metric);
    member = confread_member(reader, setting, path, "alert_period", false, member_path,
                             sizeof(member_path));
    if (member != NULL) {
        int type = periods_usable ? read_metric_period(reader, member, member_path, metric->periods)
                                  : read_period_type(reader, member, member_path);
        if (type >= 0)
            metric->alert_period = (enum period_type)type;
    }

    member = confread_member(reader, setting, path, "direction", false, member_path,
                             sizeof(member_path));
    if (member != NULL)
        read_direction(reader, member, member_path, metric, &direction_given);

    for (int i = 0; i < 3; i++) {
        *has[i] = read_number_member(reader, setting, path, threshold_keys[i], &thresholds[i],
                                     threshold_paths[i], sizeof(threshold_paths[i]), value[i]);
        if (*has[i] && first_threshold < 0)
            first_threshold = i;
    }
    if (read_number_member(reader, setting, path, "hysteresis", &member, member_path,
                           sizeof(member_path), &metric->hysteresis) &&
        metric->hysteresis < 0) {
        confread_fail(reader, member, member_path, "%g is negative; it must be 0 or more",
                      metric->hysteresis);
        metric->hysteresis = 0;
    }
    confread_int_member(reader, setting, path, "min_observations", 1, MIN_OBSERVATIONS_MAX,
                        &metric->min_observations);
    if (metric->derived == DERIVED_NONE) {
        metric->has_min = read_number_member(reader, setting, path, "min", &min_setting,
                                             member_path, sizeof(member_path), &metric->min);
        metric->has_max = read_number_member(reader, setting, path, "max", &max_setting,
                                             member_path, sizeof(member_path), &metric->max);
        if (metric->has_min && metric->has_max && metric->min >= metric->max)
            confread_fail(reader, max_setting, member_path, "%g is not above min (%g)", metric->max,
                          metric->min);
    }

    /* A derived measure knows which way is better; an observed one must be told. */
    if (first_threshold >= 0 && metric->derived == DERIVED_NONE && derived_known &&
        !direction_given)
        confread_fail(
            reader, thresholds[first_threshold], threshold_paths[first_threshold],
            "needs direction = \"higher\" or \"lower\" to say which side of it is better");
    if (derived_known)
        check_thresholds(reader, metric, thresholds, threshold_paths,
                         direction_given || metric->derived != DERIVED_NONE);

    member = confread_member(reader, setting, path, "kinds", metric->derived != DERIVED_NONE,
                             member_path, sizeof(member_path));
    if (member != NULL && metric->derived == DERIVED_NONE && derived_known)
        confread_fail(reader, member, member_path,
                      "only a derived metric counts kinds of review (add derived = \"compliance\", "
                      "\"overdue\" or \"days_overdue\", or remove kinds)");
    else if (member != NULL)
        read_names(reader, member, member_path, METRIC_MAX_KINDS, context->kinds, true,
                   metric->kinds, &metric->kind_count);

    member = confread_member(reader, setting, path, "alert_roles", false, member_path,
                             sizeof(member_path));
    if (member != NULL) {
        read_names(reader, member, member_path, METRIC_MAX_ROLES, NULL, false, metric->roles,
                   &metric->role_count);
    } else {
        metric->role_count = context->role_count;
        memcpy(metric->roles, context->roles, sizeof(metric->roles));
    }

    member = confread_member(reader, setting, path, "benchmarks", false, member_path,
                             sizeof(member_path));
    if (member != NULL)
        read_benchmarks(reader, member, member_path, context->week_start, metric);
}

static void
read_metrics(struct confread *reader, config_setting_t *list, const struct context *context,
             struct metrics *out)
{
    int length;

    length = confread_list_length(reader, list, "metrics", "a list of metrics ( { ... }, { ... } )",
                                  METRICS_MAX, "metrics");
    if (length <= 0)
        return;
    out->items = calloc((size_t)length, sizeof(*out->items));
    if (out->items == NULL) {
        reader->out_of_memory = true;
        return;
    }
    out->count = length;
    for (int i = 0; i < length; i++)
        read_metric(reader, config_setting_get_elem(list, (unsigned)i), i, context, &out->items[i]);
    for (int i = 1; i < length; i++) {
        const char *name = out->items[i].name;
        for (int j = 0; name[0] != '\0' && j < i; j++) {
            if (strcmp(name, out->items[j].name) == 0) {
                char path[CONFREAD_PATH_SIZE];
                snprintf(path, sizeof(path), "metrics.%s.name", name);
                confread_fail(
                    reader,
                    config_setting_get_member(config_setting_get_elem(list, (unsigned)i), "name"),
                    path, "\"%s\" is already the name of the metric on line %d", name,
                    out->items[j].line);
                break;
            }
        }
    }
}

int
metrics_load(config_setting_t *root, const char *file, const struct kinds *kinds,
             struct metrics *out, struct config_errors *errors)
{
    struct confread reader = {file, errors, 0, false};
    struct context context;
    config_setting_t *kpi = config_setting_get_member(root, "kpi");
    config_setting_t *list = config_setting_get_member(root, "metrics");

    memset(out, 0, sizeof(*out));
    memset(&context, 0, sizeof(context));
    out->week_start = 0; /* Monday */
    out->retention_days = 800;
    out->future_minutes = 1440;
    out->flush_ms = 10000;

    if (kpi != NULL)
        read_kpi(&reader, kpi, out, &context);
    context.kinds = kinds;
    context.week_start = out->week_start;
    if (list != NULL)
        read_metrics(&reader, list, &context, out);
    return confread_result(&reader);
}

void
metrics_free(struct metrics *metrics)
{
    if (metrics == NULL)
        return;
    for (int i = 0; metrics->items != NULL && i < metrics->count; i++) {
        free(metrics->items[i].title);
        free(metrics->items[i].unit);
    }
    free(metrics->items);
    memset(metrics, 0, sizeof(*metrics));
}

const struct metric *
metrics_find(const struct metrics *metrics, const char *name)
{
    for (int i = 0; i < metrics->count; i++)
        if (strcmp(metrics->items[i].name, name) == 0)
            return &metrics->items[i];
    return NULL;
}

const char *
metrics_aggregate_name(const struct metric *metric, char *buf, size_t size)
{
    char number[32];
    size_t length;

    for (size_t i = 0; i < sizeof(aggregates) / sizeof(aggregates[0]); i++)
        if (aggregates[i].aggregate == metric->aggregate)
            return aggregates[i].name;
    /* A percentile, written back as it was read: "p90", "p99.9", never "p90.000000". */
    snprintf(number, sizeof(number), "%.*f", PERCENTILE_DECIMALS, metric->percentile);
    length = strlen(number);
    while (length > 0 && number[length - 1] == '0')
        number[--length] = '\0';
    if (length > 0 && number[length - 1] == '.')
        number[--length] = '\0';
    snprintf(buf, size, "p%s", number);
    return buf;
}

/* How well benchmark fits the period: 2 exactly, 1 its type, 0 any period; -1 not at all. */
static int
benchmark_fit(const struct metric_benchmark *benchmark, enum period_type type, int64_t start)
{
    if (benchmark->period_type < 0)
        return 0;
    if (benchmark->period_type != (int)type)
        return -1;
    if (!benchmark->has_start)
        return 1;
    return benchmark->start_day == start ? 2 : -1;
}

int
metrics_benchmarks_for(const struct metric *metric, enum period_type type, int64_t start,
                       const struct metric_benchmark **out, int max)
{
    int found = 0;

    for (int i = 0; i < metric->benchmark_count && found < max; i++) {
        const char *name = metric->benchmarks[i].name;
        const struct metric_benchmark *best = NULL;
        int best_fit = -1;
        bool seen = false;

        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(metric->benchmarks[j].name, name) == 0;
        if (seen)
            continue; /* this name was settled at its first appearance */
        for (int j = i; j < metric->benchmark_count; j++) {
            int fit;
            if (strcmp(metric->benchmarks[j].name, name) != 0)
                continue;
            fit = benchmark_fit(&metric->benchmarks[j], type, start);
            if (fit > best_fit) {
                best_fit = fit;
                best = &metric->benchmarks[j];
            }
        }
        if (best != NULL)
            out[found++] = best;
    }
    return found;
}
