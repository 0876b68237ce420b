/*
 * Unit tests of daemon/metrics: the "kpi" and "metrics" sections of
 * carehubd.conf, read through config_load() as the daemon reads them.
 *
 * A valid file must give exactly the expected structs; every mistake must be
 * reported, each as "FILE:LINE: key: reason" with the line of the setting at
 * fault.  Tests name that line by a marker: the first line of the file that
 * holds the marker text.
 */
#include "config_fixture.h"
#include "metrics.h"
#include "period.h"
#include "timefmt.h"

/* Review kinds for derived metrics; the training kind is not called "training". */
#define KINDS                                                                                      \
    "kinds = ( { name = \"supervision\"; title = \"Supervision\"; recurring = { every = \"6 "      \
    "weeks\"; }; },\n"                                                                             \
    "  { name = \"appraisal\"; title = \"Appraisal\"; recurring = { every = \"1 year\"; }; },\n"   \
    "  { name = \"mandatory_training\"; title = \"Training\"; training = true; } );\n"             \
    "courses = ( { name = \"fire_safety\"; title = \"Fire\"; valid = \"1 year\"; } );\n"

static int64_t
day_of(int year, int month, int day)
{
    return timefmt_days_from_civil(year, month, day);
}

/* ---- valid files ---- */

static void
test_no_sections_gives_defaults(void **state)
{
    struct fixture *fixture = *state;
    const struct metrics *metrics = &fixture->config.metrics;

    load_valid(fixture, MINIMAL);
    assert_int_equal(metrics->week_start, 0);
    assert_int_equal(metrics->retention_days, 800);
    assert_int_equal(metrics->future_minutes, 1440);
    assert_int_equal(metrics->flush_ms, 10000);
    assert_int_equal(metrics->count, 0);
    assert_null(metrics->items);
    assert_null(metrics_find(metrics, "length_of_stay"));
}

static void
test_empty_sections(void **state)
{
    struct fixture *fixture = *state;

    load_valid(fixture, MINIMAL "kpi = { };\nmetrics = ();\n");
    assert_int_equal(fixture->config.metrics.count, 0);
    assert_int_equal(fixture->config.metrics.retention_days, 800);
    load_valid(fixture, MINIMAL "metrics = [];\n");
    assert_int_equal(fixture->config.metrics.count, 0);
}

static const char full_text[] = MINIMAL KINDS
    "kpi = {\n"
    "    week_starts = \"Sunday\";\n"
    "    retention_days = 400;\n"
    "    future_minutes = 60;\n"
    "    flush_ms = 500;\n"
    "    alert_roles = [\"registered_manager\", \"hr_lead\"];\n"
    "};\n"
    "metrics = (\n"
    "    {\n"
    "        name = \"length_of_stay\";\n"
    "        title = \"Average length of stay\";\n"
    "        unit = \"days\";\n"
    "        aggregate = \"mean\";\n"
    "        periods = [\"week\", \"month\", \"quarter\"];\n"
    "        alert_period = \"month\";\n"
    "        direction = \"lower\";\n"
    "        target = 5.0; warning = 6; critical = 8.0;\n"
    "        hysteresis = 0.25;\n"
    "        min_observations = 10;\n"
    "        min = 0; max = 365.0;\n"
    "        alert_roles = [\"ward_manager\"];\n"
    "        benchmarks = (\n"
    "            { name = \"regional\"; value = 5.5; },\n"
    "            { name = \"national\"; value = 5.8; period = \"quarter\"; },\n"
    "            { name = \"national\"; value = 5.9; period = \"quarter\"; at = \"2026-Q1\"; },\n"
    "            { name = \"national\"; value = 6; period = \"week\"; at = \"2026-11-19\"; } );\n"
    "    },\n"
    "    { name = \"AE.wait-p99\"; title = \"Wait in A&E\"; unit = \"minutes\"; aggregate = "
    "\"p99.9\";\n"
    "      periods = [\"year\", \"day\"]; },\n"
    "    { name = \"vacancies\"; title = \"Vacant posts\"; aggregate = \"last\"; direction = "
    "\"lower\";\n"
    "      target = 0; alert_roles = []; },\n"
    "    { name = \"supervision_compliance\"; title = \"Supervision up to date\"; derived = "
    "\"compliance\";\n"
    "      kinds = [\"supervision\", \"training\"]; target = 95; warning = 90; critical = 80; },\n"
    "    { name = \"reviews_overdue\"; title = \"Reviews overdue\"; derived = \"overdue\";\n"
    "      kinds = [\"supervision\", \"appraisal\"]; unit = \"reviews\"; direction = \"higher\"; "
    "},\n"
    "    { name = \"days_overdue\"; title = \"Days overdue\"; derived = \"days_overdue\";\n"
    "      kinds = [\"mandatory_training\"]; warning = 7; critical = 28; }\n"
    ");\n";

static void
test_full_file_parses_exactly(void **state)
{
    struct fixture *fixture = *state;
    const struct metrics *metrics = &fixture->config.metrics;
    const struct metric *metric;
    char buf[32];

    load_valid(fixture, full_text);
    assert_int_equal(metrics->week_start, 6);
    assert_int_equal(metrics->retention_days, 400);
    assert_int_equal(metrics->future_minutes, 60);
    assert_int_equal(metrics->flush_ms, 500);
    assert_int_equal(metrics->count, 6);

    metric = &metrics->items[0];
    assert_string_equal(metric->name, "length_of_stay");
    assert_string_equal(metric->title, "Average length of stay");
    assert_string_equal(metric->unit, "days");
    assert_int_equal(metric->line, line_of(full_text, "name = \"length_of_stay\"") - 1);
    assert_int_equal(metric->aggregate, AGGREGATE_MEAN);
    assert_string_equal(metrics_aggregate_name(metric, buf, sizeof(buf)), "mean");
    assert_int_equal(metric->periods,
                     (1u << PERIOD_WEEK) | (1u << PERIOD_MONTH) | (1u << PERIOD_QUARTER));
    assert_int_equal(metric->alert_period, PERIOD_MONTH);
    assert_int_equal(metric->direction, DIRECTION_LOWER);
    assert_true(metric->has_target);
    assert_true(metric->has_warning);
    assert_true(metric->has_critical);
    assert_true(metric->target == 5.0);
    assert_true(metric->warning == 6.0);
    assert_true(metric->critical == 8.0);
    assert_true(metric->hysteresis == 0.25);
    assert_int_equal(metric->min_observations, 10);
    assert_true(metric->has_min);
    assert_true(metric->has_max);
    assert_true(metric->min == 0.0);
    assert_true(metric->max == 365.0);
    assert_int_equal(metric->derived, DERIVED_NONE);
    assert_int_equal(metric->kind_count, 0);
    assert_int_equal(metric->role_count, 1); /* its own list replaces kpi.alert_roles */
    assert_string_equal(metric->roles[0], "ward_manager");
    assert_int_equal(metric->benchmark_count, 4);
    assert_string_equal(metric->benchmarks[0].name, "regional");
    assert_int_equal(metric->benchmarks[0].period_type, -1);
    assert_false(metric->benchmarks[0].has_start);
    assert_true(metric->benchmarks[0].value == 5.5);
    assert_string_equal(metric->benchmarks[1].name, "national");
    assert_int_equal(metric->benchmarks[1].period_type, PERIOD_QUARTER);
    assert_false(metric->benchmarks[1].has_start);
    assert_true(metric->benchmarks[1].value == 5.8);
    assert_int_equal(metric->benchmarks[2].period_type, PERIOD_QUARTER);
    assert_true(metric->benchmarks[2].has_start);
    assert_int_equal(metric->benchmarks[2].start_day, day_of(2026, 1, 1));
    assert_true(metric->benchmarks[2].value == 5.9);
    /* Any day of a week names it; weeks start on Sunday here. */
    assert_int_equal(metric->benchmarks[3].period_type, PERIOD_WEEK);
    assert_true(metric->benchmarks[3].has_start);
    assert_int_equal(metric->benchmarks[3].start_day, day_of(2026, 11, 15));

    metric = &metrics->items[1];
    assert_string_equal(metric->name, "AE.wait-p99");
    assert_string_equal(metric->unit, "minutes");
    assert_int_equal(metric->aggregate, AGGREGATE_PERCENTILE);
    assert_true(metric->percentile == 99.9);
    assert_string_equal(metrics_aggregate_name(metric, buf, sizeof(buf)), "p99.9");
    assert_int_equal(metric->periods, (1u << PERIOD_DAY) | (1u << PERIOD_YEAR));
    assert_int_equal(metric->alert_period, PERIOD_YEAR); /* the first listed */
    assert_false(metric->has_target || metric->has_warning || metric->has_critical);
    assert_int_equal(metric->role_count, 2); /* kpi.alert_roles */
    assert_string_equal(metric->roles[0], "registered_manager");
    assert_string_equal(metric->roles[1], "hr_lead");

    metric = &metrics->items[2];
    assert_string_equal(metric->name, "vacancies");
    assert_string_equal(metric->unit, "");
    assert_int_equal(metric->aggregate, AGGREGATE_LAST);
    assert_int_equal(metric->direction, DIRECTION_LOWER);
    assert_true(metric->has_target);
    assert_true(metric->target == 0.0);
    assert_false(metric->has_warning);
    assert_int_equal(metric->role_count, 0); /* an empty list: nobody besides the manager */

    metric = &metrics->items[3];
    assert_string_equal(metric->name, "supervision_compliance");
    assert_int_equal(metric->derived, DERIVED_COMPLIANCE);
    assert_int_equal(metric->aggregate, AGGREGATE_MEAN);
    assert_int_equal(metric->direction, DIRECTION_HIGHER);
    assert_string_equal(metric->unit, "%");
    assert_int_equal(metric->kind_count, 2);
    assert_string_equal(metric->kinds[0], "supervision");
    assert_string_equal(metric->kinds[1], "mandatory_training"); /* "training": the training kind */
    assert_true(metric->target == 95 && metric->warning == 90 && metric->critical == 80);
    assert_int_equal(metric->periods, 1u << PERIOD_MONTH);
    assert_int_equal(metric->alert_period, PERIOD_MONTH);

    metric = &metrics->items[4];
    assert_int_equal(metric->derived, DERIVED_OVERDUE);
    assert_int_equal(metric->aggregate, AGGREGATE_SUM);
    assert_int_equal(metric->direction, DIRECTION_HIGHER); /* given, so not the default */
    assert_string_equal(metric->unit, "reviews");
    assert_int_equal(metric->kind_count, 2);
    assert_string_equal(metric->kinds[1], "appraisal");

    metric = &metrics->items[5];
    assert_int_equal(metric->derived, DERIVED_DAYS_OVERDUE);
    assert_int_equal(metric->aggregate, AGGREGATE_MEAN);
    assert_int_equal(metric->direction, DIRECTION_LOWER);
    assert_string_equal(metric->unit, "days");
    assert_int_equal(metric->kind_count, 1);
    assert_string_equal(metric->kinds[0], "mandatory_training");
    assert_false(metric->has_target);
    assert_true(metric->warning == 7 && metric->critical == 28);

    assert_ptr_equal(metrics_find(metrics, "vacancies"), &metrics->items[2]);
    assert_ptr_equal(metrics_find(metrics, "AE.wait-p99"), &metrics->items[1]);
    assert_null(metrics_find(metrics, "Vacancies"));
}

static void
test_defaults_of_one_metric(void **state)
{
    struct fixture *fixture = *state;
    const struct metric *metric;
    char buf[32];

    load_valid(
        fixture, MINIMAL KINDS
        "metrics = ( { name = \"incidents\"; title = \"Incidents\"; },\n"
        "  { name = \"c\"; title = \"C\"; derived = \"compliance\"; kinds = [\"appraisal\"]; "
        "},\n"
        "  { name = \"o\"; title = \"O\"; derived = \"overdue\"; kinds = [\"appraisal\"]; },\n"
        "  { name = \"d\"; title = \"D\"; derived = \"days_overdue\"; kinds = "
        "[\"appraisal\"]; } );\n");
    metric = &fixture->config.metrics.items[0];
    assert_string_equal(metric->unit, "");
    assert_int_equal(metric->aggregate, AGGREGATE_MEAN);
    assert_string_equal(metrics_aggregate_name(metric, buf, sizeof(buf)), "mean");
    assert_int_equal(metric->periods, 1u << PERIOD_MONTH);
    assert_int_equal(metric->alert_period, PERIOD_MONTH);
    assert_false(metric->has_target || metric->has_warning || metric->has_critical);
    assert_true(metric->hysteresis == 0.0);
    assert_int_equal(metric->min_observations, 1);
    assert_false(metric->has_min || metric->has_max);
    assert_int_equal(metric->derived, DERIVED_NONE);
    assert_int_equal(metric->kind_count, 0);
    assert_int_equal(metric->role_count, 0); /* kpi.alert_roles: none */
    assert_int_equal(metric->benchmark_count, 0);

    metric = &fixture->config.metrics.items[1];
    assert_string_equal(metric->unit, "%");
    assert_int_equal(metric->aggregate, AGGREGATE_MEAN);
    assert_int_equal(metric->direction, DIRECTION_HIGHER);
    metric = &fixture->config.metrics.items[2];
    assert_string_equal(metric->unit, "");
    assert_int_equal(metric->aggregate, AGGREGATE_SUM);
    assert_int_equal(metric->direction, DIRECTION_LOWER);
    metric = &fixture->config.metrics.items[3];
    assert_string_equal(metric->unit, "days");
    assert_int_equal(metric->aggregate, AGGREGATE_MEAN);
    assert_int_equal(metric->direction, DIRECTION_LOWER);
}

static void
test_aggregate_names(void **state)
{
    static const struct {
        const char *written;
        enum metric_aggregate aggregate;
        const char *name;
    } cases[] = {{"count", AGGREGATE_COUNT, "count"},
                 {"sum", AGGREGATE_SUM, "sum"},
                 {"mean", AGGREGATE_MEAN, "mean"},
                 {"min", AGGREGATE_MIN, "min"},
                 {"max", AGGREGATE_MAX, "max"},
                 {"last", AGGREGATE_LAST, "last"},
                 {"p50", AGGREGATE_PERCENTILE, "p50"},
                 {"p90", AGGREGATE_PERCENTILE, "p90"},
                 {"p99", AGGREGATE_PERCENTILE, "p99"},
                 {"p99.9", AGGREGATE_PERCENTILE, "p99.9"},
                 {"p99.990", AGGREGATE_PERCENTILE, "p99.99"},
                 {"p0.5", AGGREGATE_PERCENTILE, "p0.5"},
                 {"p05", AGGREGATE_PERCENTILE, "p5"},
                 {"p99.999999", AGGREGATE_PERCENTILE, "p99.999999"},
                 {"p1.0", AGGREGATE_PERCENTILE, "p1"}};
    struct fixture *fixture = *state;
    char text[512], buf[32];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text),
                 MINIMAL "metrics = ( { name = \"m\"; title = \"M\"; aggregate = \"%s\"; } );\n",
                 cases[i].written);
        load_valid(fixture, text);
        assert_int_equal(fixture->config.metrics.items[0].aggregate, cases[i].aggregate);
        assert_string_equal(
            metrics_aggregate_name(&fixture->config.metrics.items[0], buf, sizeof(buf)),
            cases[i].name);
    }
    /* A buffer too small for the name cuts it short, never overruns it. */
    assert_string_equal(metrics_aggregate_name(&fixture->config.metrics.items[0], buf, 3), "p1");
}

static void
test_week_starts_every_day(void **state)
{
    static const char *const days[7] = {"monday", "Tuesday",  "WEDNESDAY", "thu",
                                        "Fri",    "saturday", "sun"};
    struct fixture *fixture = *state;
    char text[512];

    for (int day = 0; day < 7; day++) {
        snprintf(text, sizeof(text), MINIMAL "kpi = { week_starts = \"%s\"; };\n", days[day]);
        load_valid(fixture, text);
        assert_int_equal(fixture->config.metrics.week_start, day);
    }
}

static void
test_limits_of_kpi_numbers(void **state)
{
    struct fixture *fixture = *state;
    const struct metrics *metrics = &fixture->config.metrics;

    load_valid(fixture,
               MINIMAL "kpi = { retention_days = 1; future_minutes = 0; flush_ms = 100; };\n");
    assert_int_equal(metrics->retention_days, 1);
    assert_int_equal(metrics->future_minutes, 0);
    assert_int_equal(metrics->flush_ms, 100);
    load_valid(fixture, MINIMAL
               "kpi = { retention_days = 36500; future_minutes = 10080; flush_ms = 60000; };\n");
    assert_int_equal(metrics->retention_days, 36500);
    assert_int_equal(metrics->future_minutes, 10080);
    assert_int_equal(metrics->flush_ms, 60000);
}

static void
test_thresholds_in_order_and_equal(void **state)
{
    struct fixture *fixture = *state;

    /* Equal thresholds are in order; so is any pair with the third left out. */
    load_valid(
        fixture, MINIMAL
        "metrics = (\n"
        "  { name = \"a\"; title = \"A\"; direction = \"lower\"; target = 5; warning = 5; "
        "critical = 5; },\n"
        "  { name = \"b\"; title = \"B\"; direction = \"higher\"; target = 5; critical = 1; "
        "},\n"
        "  { name = \"c\"; title = \"C\"; direction = \"higher\"; warning = 5; critical = "
        "-1.5; },\n"
        "  { name = \"d\"; title = \"D\"; direction = \"lower\"; aggregate = \"sum\"; min = 0; "
        "max = 1; target = 20; },\n"
        "  { name = \"e\"; title = \"E\"; direction = \"lower\"; aggregate = \"count\"; min = "
        "0; max = 1; target = 20; },\n"
        "  { name = \"f\"; title = \"F\"; direction = \"lower\"; min = 0; max = 10; target = "
        "0; critical = 10; },\n"
        "  { name = \"g\"; title = \"G\"; derived = \"compliance\"; kinds = [\"x\"]; target = "
        "100; critical = 0; } );\n"
        "kinds = ( { name = \"x\"; title = \"X\"; assigned = true; } );\n");
    assert_int_equal(fixture->config.metrics.count, 7);
}

static void
test_reference_configuration(void **state)
{
    struct fixture *fixture = *state;
    const struct metrics *metrics = &fixture->config.metrics;
    const struct metric *metric;

    load_reference(fixture);
    assert_int_equal(metrics->week_start, 0);
    assert_int_equal(metrics->retention_days, 800);
    assert_true(metrics->count >= 8);
    metric = metrics_find(metrics, "sickness_absence_rate");
    assert_non_null(metric);
    assert_int_equal(metric->direction, DIRECTION_LOWER);
    assert_true(metric->benchmark_count >= 2);
    metric = metrics_find(metrics, "supervision_compliance");
    assert_non_null(metric);
    assert_int_equal(metric->derived, DERIVED_COMPLIANCE);
    assert_string_equal(metric->kinds[0], "supervision");
    metric = metrics_find(metrics, "training_compliance");
    assert_non_null(metric);
    assert_int_equal(metric->derived, DERIVED_COMPLIANCE);
    assert_non_null(metrics_find(metrics, "reviews_overdue"));
    assert_non_null(metrics_find(metrics, "days_overdue"));
}

/* ---- benchmarks_for ---- */

static void
test_benchmarks_for_precedence(void **state)
{
    struct fixture *fixture = *state;
    const struct metric_benchmark *out[8];
    const struct metric *metric;
    int n;

    load_valid(fixture, MINIMAL
               "metrics = ( { name = \"m\"; title = \"M\"; periods = [\"month\", \"quarter\", "
               "\"year\"];\n"
               "  benchmarks = (\n"
               "    { name = \"club\"; value = 5; period = \"month\"; at = \"2026-02\"; },\n"
               "    { name = \"regional\"; value = 1; },\n"
               "    { name = \"national\"; value = 2; period = \"quarter\"; },\n"
               "    { name = \"national\"; value = 3; period = \"quarter\"; at = \"2026-Q1\"; },\n"
               "    { name = \"national\"; value = 4; },\n"
               "    { name = \"regional\"; value = 6; period = \"month\"; } ); } );\n");
    metric = &fixture->config.metrics.items[0];

    /* The exact quarter beats every quarter, which beats every period. */
    n = metrics_benchmarks_for(metric, PERIOD_QUARTER, day_of(2026, 1, 1), out, 8);
    assert_int_equal(n, 2);
    assert_string_equal(out[0]->name, "regional");
    assert_true(out[0]->value == 1);
    assert_string_equal(out[1]->name, "national");
    assert_true(out[1]->value == 3);

    n = metrics_benchmarks_for(metric, PERIOD_QUARTER, day_of(2026, 4, 1), out, 8);
    assert_int_equal(n, 2);
    assert_true(out[0]->value == 1);
    assert_true(out[1]->value == 2);

    /* In the order the names first appear, "club" first, whatever applies. */
    n = metrics_benchmarks_for(metric, PERIOD_MONTH, day_of(2026, 2, 1), out, 8);
    assert_int_equal(n, 3);
    assert_string_equal(out[0]->name, "club");
    assert_true(out[0]->value == 5);
    assert_string_equal(out[1]->name, "regional");
    assert_true(out[1]->value == 6);
    assert_string_equal(out[2]->name, "national");
    assert_true(out[2]->value == 4);

    n = metrics_benchmarks_for(metric, PERIOD_MONTH, day_of(2026, 3, 1), out, 8);
    assert_int_equal(n, 2);
    assert_string_equal(out[0]->name, "regional");
    assert_true(out[0]->value == 6);
    assert_true(out[1]->value == 4);

    n = metrics_benchmarks_for(metric, PERIOD_YEAR, day_of(2026, 1, 1), out, 8);
    assert_int_equal(n, 2);
    assert_true(out[0]->value == 1);
    assert_true(out[1]->value == 4);

    /* At most max. */
    n = metrics_benchmarks_for(metric, PERIOD_MONTH, day_of(2026, 2, 1), out, 1);
    assert_int_equal(n, 1);
    assert_string_equal(out[0]->name, "club");
    assert_int_equal(metrics_benchmarks_for(metric, PERIOD_MONTH, day_of(2026, 2, 1), NULL, 0), 0);

    /* A metric without benchmarks has none for any period. */
    load_valid(fixture, MINIMAL "metrics = ( { name = \"m\"; title = \"M\"; } );\n");
    assert_int_equal(metrics_benchmarks_for(&fixture->config.metrics.items[0], PERIOD_MONTH,
                                            day_of(2026, 2, 1), out, 8),
                     0);
}

/* ---- mistakes ---- */

static void
test_unknown_keys_everywhere(void **state)
{
    static const char text[] =
        MINIMAL "kpi = { weekstarts = \"monday\"; };\n"
                "metrics = ( { name = \"los\"; title = \"LOS\"; colour = \"red\";\n"
                "  benchmarks = ( { name = \"national\"; value = 1; year = 2026; } ); } );\n"
                "kpis = 1;\n";

    EXPECT_ERRORS(*state, text, {"weekstarts", "kpi.weekstarts: unknown key"},
                  {"colour", "metrics.los.colour: unknown key"},
                  {"year = 2026", "metrics.los.benchmarks[1].year: unknown key"},
                  {"kpis = 1", "kpis: unknown key"});
}

static void
test_wrong_types(void **state)
{
    static const char text[] =
        MINIMAL "kpi = { week_starts = 1;\n"
                "  retention_days = \"800\";\n"
                "  flush_ms = 2000.5;\n"
                "  alert_roles = \"registered_manager\"; };\n"
                "metrics = ( { name = \"los\"; title = 5;\n"
                "  unit = 1;\n"
                "  aggregate = [\"mean\"];\n"
                "  periods = \"month\";\n"
                "  alert_period = 2;\n"
                "  direction = true;\n"
                "  target = \"5\";\n"
                "  hysteresis = \"none\";\n"
                "  min_observations = 1.5;\n"
                "  min = { };\n"
                "  alert_roles = [1];\n"
                "  benchmarks = { name = \"national\"; }; },\n"
                "  { name = 7; title = \"Seven\"; derived = 1; kinds = \"supervision\"; },\n"
                "  \"third\" );\n";

    EXPECT_ERRORS(
        *state, text, {"week_starts = 1", "kpi.week_starts: must be a string, not an integer"},
        {"\"800\"", "kpi.retention_days: must be an integer, not a string"},
        {"2000.5", "kpi.flush_ms: must be an integer, not a number with a fraction"},
        {"alert_roles = \"", "kpi.alert_roles: must be a list of strings like [\"a\", "
                             "\"b\"], not a string"},
        {"title = 5", "metrics.los.title: must be a string, not an integer"},
        {"unit = 1", "metrics.los.unit: must be a string, not an integer"},
        {"aggregate = [", "metrics.los.aggregate: must be a string, not an array"},
        {"periods = \"month\"", "metrics.los.periods: must be a list like [\"month\", "
                                "\"quarter\"], not a string"},
        {"alert_period = 2", "metrics.los.alert_period: must be a string, not an integer"},
        {"direction = true", "metrics.los.direction: must be a string, not true or false"},
        {"target = \"5\"", "metrics.los.target: must be a number, not a string"},
        {"hysteresis", "metrics.los.hysteresis: must be a number, not a string"},
        {"min_observations", "metrics.los.min_observations: must be an integer, not a "
                             "number with a fraction"},
        {"min = {", "metrics.los.min: must be a number, not a group"},
        {"alert_roles = [1]", "metrics.los.alert_roles[1]: must be a string, not an "
                              "integer"},
        {"benchmarks = {", "metrics.los.benchmarks: must be a list of benchmarks ( { name "
                           "= \"national\"; value = 5.8; }, ... ), not a group"},
        {"name = 7", "metrics[2].name: must be a string, not an integer"},
        {"derived = 1", "metrics[2].derived: must be a string, not an integer"},
        {"kinds = \"supervision\"", "metrics[2].kinds: must be a list of strings like "
                                    "[\"a\", \"b\"], not a string"},
        {"\"third\"", "metrics[3]: must be a group { ... }, not a string"});
}

static void
test_sections_of_the_wrong_type(void **state)
{
    EXPECT_ERRORS(*state, MINIMAL "kpi = ( );\nmetrics = { name = \"x\"; };\n",
                  {"kpi = (", "kpi: must be a group { ... }, not a list"},
                  {"metrics = {", "metrics: must be a list of metrics ( { ... }, { ... } ), not a "
                                  "group"});
}

static void
test_missing_name_and_title(void **state)
{
    static const char text[] = MINIMAL "metrics = (\n"
                                       "  { title = \"No name\"; },\n"
                                       "  { name = \"no_title\"; },\n"
                                       "  { name = \"\"; title = \"Empty\"; } );\n";

    EXPECT_ERRORS(*state, text, {"No name", "metrics[1].name: required key is missing"},
                  {"no_title", "metrics.no_title.title: required key is missing"},
                  {"Empty", "metrics[3].name: must not be empty"});
}

static void
test_invalid_names(void **state)
{
    static const char text[] =
        MINIMAL "metrics = (\n"
                "  { name = \"length of stay\"; title = \"LOS\";\n"
                "    benchmarks = ( { name = \"the nation\"; value = 1; } ); } );\n";

    EXPECT_ERRORS(*state, text,
                  {"length of stay", "metrics[1].name: \"length of stay\" is not a valid name (use "
                                     "1 to 64 letters, digits, _, . and -, like "
                                     "\"length_of_stay\")"},
                  {"the nation", "metrics[1].benchmarks[1].name: \"the nation\" is not a valid "
                                 "name (use 1 to 64 letters, digits, _, . and -, like "
                                 "\"national\")"});
}

static void
test_name_too_long(void **state)
{
    char text[1024], what[512];
    char long_name[KIND_NAME_MAX + 2];

    memset(long_name, 'a', KIND_NAME_MAX + 1);
    long_name[KIND_NAME_MAX + 1] = '\0';
    snprintf(text, sizeof(text), MINIMAL "metrics = ( { name = \"%s\"; title = \"Long\"; } );\n",
             long_name);
    snprintf(what, sizeof(what),
             "metrics[1].name: \"%s\" is not a valid name (use 1 to 64 letters, digits, _, . and "
             "-, like \"length_of_stay\")",
             long_name);
    EXPECT_ERRORS(*state, text, {"Long", what});
    /* Exactly KIND_NAME_MAX bytes is fine. */
    long_name[KIND_NAME_MAX] = '\0';
    snprintf(text, sizeof(text), MINIMAL "metrics = ( { name = \"%s\"; title = \"Long\"; } );\n",
             long_name);
    load_valid(*state, text);
}

static void
test_duplicate_names(void **state)
{
    static const char text[] =
        MINIMAL "metrics = (\n"
                "  { name = \"vacancies\"; title = \"Vacancies\"; },\n"
                "  { name = \"incidents\"; title = \"Incidents\"; },\n"
                "  { name = \"vacancies\"; title = \"Vacancies again\"; } );\n";
    char what[256];

    snprintf(what, sizeof(what),
             "metrics.vacancies.name: \"vacancies\" is already the name of the metric on line %d",
             line_of(text, "\"Vacancies\""));
    EXPECT_ERRORS(*state, text, {"Vacancies again", what});
}

static void
test_unknown_names_of_things(void **state)
{
    static const char text[] =
        MINIMAL "kpi = { week_starts = \"Mondy\"; };\n"
                "metrics = ( { name = \"los\"; title = \"LOS\";\n"
                "  aggregate = \"median\";\n"
                "  periods = [\"month\", \"fortnight\"];\n"
                "  direction = \"down\"; },\n"
                "  { name = \"x\"; title = \"X\";\n"
                "    derived = \"sum_of_reviews\"; alert_period = \"decade\"; } );\n";

    EXPECT_ERRORS(
        *state, text,
        {"Mondy", "kpi.week_starts: \"Mondy\" is not a day of the week (write \"monday\", "
                  "\"tuesday\" ... or \"sunday\")"},
        {"median", "metrics.los.aggregate: \"median\" is not a way to combine values (write "
                   "\"count\", \"sum\", \"mean\", \"min\", \"max\", \"last\" or a percentile like "
                   "\"p90\")"},
        {"fortnight", "metrics.los.periods[2]: \"fortnight\" is not a period (write \"day\", "
                      "\"week\", \"month\", \"quarter\" or \"year\")"},
        {"down", "metrics.los.direction: \"down\" is not a direction (write \"higher\" or "
                 "\"lower\": which is better)"},
        {"sum_of_reviews", "metrics.x.derived: \"sum_of_reviews\" is not something carehubd "
                           "works out (write \"compliance\", \"overdue\" or \"days_overdue\")"},
        {"decade", "metrics.x.alert_period: \"decade\" is not a period (write \"day\", \"week\", "
                   "\"month\", \"quarter\" or \"year\")"});
}

static void
test_percentiles_out_of_range(void **state)
{
    static const char text[] =
        MINIMAL "metrics = ( { name = \"a\"; title = \"A\"; aggregate = \"p0\"; },\n"
                "  { name = \"b\"; title = \"B\"; aggregate = \"p100\"; },\n"
                "  { name = \"c\"; title = \"C\"; aggregate = \"p150.5\"; },\n"
                "  { name = \"d\"; title = \"D\"; aggregate = \"p0.0\"; },\n"
                "  { name = \"e\"; title = \"E\"; aggregate = \"p99.\"; },\n"
                "  { name = \"f\"; title = \"F\"; aggregate = \"p-5\"; },\n"
                "  { name = \"g\"; title = \"G\"; aggregate = \"p99.9999999\"; } );\n";
#define NOT_A_PERCENTILE(p)                                                                        \
    "\"" p "\" is not a percentile above 0 and below 100 (like \"p50\", \"p90\" or \"p99.9\")"
#define NOT_AN_AGGREGATE(p)                                                                        \
    "\"" p "\" is not a way to combine values (write \"count\", \"sum\", \"mean\", \"min\", "      \
    "\"max\", \"last\" or a percentile like \"p90\")"

    EXPECT_ERRORS(*state, text, {"\"p0\"", "metrics.a.aggregate: " NOT_A_PERCENTILE("p0")},
                  {"\"p100\"", "metrics.b.aggregate: " NOT_A_PERCENTILE("p100")},
                  {"\"p150.5\"", "metrics.c.aggregate: " NOT_A_PERCENTILE("p150.5")},
                  {"\"p0.0\"", "metrics.d.aggregate: " NOT_A_PERCENTILE("p0.0")},
                  {"\"p99.\"", "metrics.e.aggregate: " NOT_AN_AGGREGATE("p99.")},
                  {"\"p-5\"", "metrics.f.aggregate: " NOT_AN_AGGREGATE("p-5")},
                  {"\"p99.9999999\"", "metrics.g.aggregate: " NOT_AN_AGGREGATE("p99.9999999")});
#undef NOT_A_PERCENTILE
#undef NOT_AN_AGGREGATE
}

static void
test_period_lists(void **state)
{
    static const char text[] =
        MINIMAL "metrics = ( { name = \"a\"; title = \"A\"; periods = [];\n"
                "    alert_period = \"year\"; },\n"
                "  { name = \"b\"; title = \"B\"; periods = [\"month\", \"week\", \"month\"]; },\n"
                "  { name = \"d\"; title = \"D\";\n"
                "    alert_period = \"week\"; } );\n";

    EXPECT_ERRORS(*state, text,
                  {"periods = []", "metrics.a.periods: must name at least one period, like "
                                   "[\"month\"]"},
                  {"\"month\", \"week\", \"month\"", "metrics.b.periods[3]: \"month\" is listed "
                                                     "twice"},
                  {"alert_period = \"week\"", "metrics.d.alert_period: \"week\" is not one of "
                                              "this metric's periods (month)"});
}

static void
test_alert_period_not_among_periods(void **state)
{
    static const char text[] = MINIMAL
        "metrics = ( { name = \"c\"; title = \"C\"; periods = [\"week\", \"month\", \"quarter\"];\n"
        "    alert_period = \"year\"; } );\n";

    EXPECT_ERRORS(*state, text,
                  {"alert_period", "metrics.c.alert_period: \"year\" is not one of this metric's "
                                   "periods (week, month and quarter)"});
}

static void
test_thresholds_on_the_wrong_side(void **state)
{
    static const char text[] = MINIMAL KINDS
        "metrics = (\n"
        "  { name = \"los\"; title = \"LOS\"; direction = \"lower\";\n"
        "    target = 5;\n"
        "    warning = 4;\n"
        "    critical = 3; },\n"
        "  { name = \"rate\"; title = \"Rate\"; direction = \"higher\";\n"
        "    target = 90; warning = 80;\n"
        "    critical = 85; },\n"
        "  { name = \"wait\"; title = \"Wait\"; direction = \"lower\";\n"
        "    target = 5.5;\n"
        "    critical = 4.5; },\n"
        "  { name = \"beds\"; title = \"Beds\"; direction = \"higher\";\n"
        "    target = 95;\n"
        "    warning = 96; },\n"
        "  { name = \"sup\"; title = \"Sup\"; derived = \"compliance\"; kinds = "
        "[\"supervision\"];\n"
        "    target = 80;\n"
        "    warning = 90; },\n"
        "  { name = \"late\"; title = \"Late\"; derived = \"overdue\"; kinds = [\"appraisal\"];\n"
        "    warning = 10;\n"
        "    critical = 2; } );\n";

    EXPECT_ERRORS(
        *state, text,
        {"warning = 4;", "metrics.los.warning: warning (4) is better than the target (5) for a "
                         "metric where lower is better; it must be 5 or more"},
        {"critical = 3;", "metrics.los.critical: critical (3) is better than the target (5) for "
                          "a metric where lower is better; it must be 5 or more"},
        {"critical = 85;", "metrics.rate.critical: critical (85) is better than the warning (80) "
                           "for a metric where higher is better; it must be 80 or less"},
        {"critical = 4.5;", "metrics.wait.critical: critical (4.5) is better than the target "
                            "(5.5) for a metric where lower is better; it must be 5.5 or more"},
        {"warning = 96;", "metrics.beds.warning: warning (96) is better than the target (95) for "
                          "a metric where higher is better; it must be 95 or less"},
        {"warning = 90;", "metrics.sup.warning: warning (90) is better than the target (80) for "
                          "a metric where higher is better; it must be 80 or less"},
        {"critical = 2;", "metrics.late.critical: critical (2) is better than the warning (10) "
                          "for a metric where lower is better; it must be 10 or more"});
}

static void
test_thresholds_need_direction(void **state)
{
    static const char text[] = MINIMAL "metrics = (\n"
                                       "  { name = \"a\"; title = \"A\";\n"
                                       "    target = 5; warning = 4; critical = 9; },\n"
                                       "  { name = \"b\"; title = \"B\";\n"
                                       "    critical = 2; } );\n";

    EXPECT_ERRORS(*state, text,
                  {"target = 5", "metrics.a.target: needs direction = \"higher\" or \"lower\" to "
                                 "say which side of it is better"},
                  {"critical = 2", "metrics.b.critical: needs direction = \"higher\" or "
                                   "\"lower\" to say which side of it is better"});
}

static void
test_number_mistakes(void **state)
{
    static const char text[] = MINIMAL "metrics = (\n"
                                       "  { name = \"a\"; title = \"A\"; hysteresis = -0.5;\n"
                                       "    min_observations = 0; },\n"
                                       "  { name = \"b\"; title = \"B\"; min = 10;\n"
                                       "    max = 10; },\n"
                                       "  { name = \"c\"; title = \"C\"; min = 10;\n"
                                       "    max = -1; },\n"
                                       "  { name = \"d\"; title = \"D\"; target = 1e999; } );\n";

    EXPECT_ERRORS(*state, text,
                  {"-0.5", "metrics.a.hysteresis: -0.5 is negative; it must be 0 or more"},
                  {"min_observations = 0", "metrics.a.min_observations: 0 is out of range (1 to "
                                           "1000000)"},
                  {"max = 10", "metrics.b.max: 10 is not above min (10)"},
                  {"max = -1", "metrics.c.max: -1 is not above min (10)"},
                  {"1e999", "metrics.d.target: is too large to be a number"});
}

static void
test_thresholds_outside_the_range(void **state)
{
    static const char text[] = MINIMAL KINDS
        "metrics = (\n"
        "  { name = \"los\"; title = \"LOS\"; direction = \"lower\"; min = 0; max = 365;\n"
        "    target = -1;\n"
        "    warning = 6;\n"
        "    critical = 400; },\n"
        "  { name = \"p\"; title = \"P\"; aggregate = \"p90\"; direction = \"higher\"; min = 1; "
        "max = 2;\n"
        "    warning = 0.5; },\n"
        "  { name = \"only_min\"; title = \"Only min\"; direction = \"higher\"; min = 0; target = "
        "-10; },\n"
        "  { name = \"sup\"; title = \"Sup\"; derived = \"compliance\"; kinds = "
        "[\"supervision\"];\n"
        "    target = 101;\n"
        "    critical = -5; } );\n";

    EXPECT_ERRORS(*state, text,
                  {"target = -1;", "metrics.los.target: -1 is outside the range of one "
                                   "observation (min 0 to max 365)"},
                  {"critical = 400;", "metrics.los.critical: 400 is outside the range of one "
                                      "observation (min 0 to max 365)"},
                  {"warning = 0.5;", "metrics.p.warning: 0.5 is outside the range of one "
                                     "observation (min 1 to max 2)"},
                  {"target = 101;", "metrics.sup.target: 101 is outside 0 to 100 (compliance is "
                                    "a percentage)"},
                  {"critical = -5;", "metrics.sup.critical: -5 is outside 0 to 100 (compliance "
                                     "is a percentage)"});
}

static void
test_derived_mistakes(void **state)
{
    static const char text[] = MINIMAL KINDS
        "metrics = (\n"
        "  { name = \"no_kinds\"; title = \"No kinds\"; derived = \"compliance\"; },\n"
        "  { name = \"empty\"; title = \"Empty\"; derived = \"overdue\";\n"
        "    kinds = []; },\n"
        "  { name = \"unknown\"; title = \"Unknown\"; derived = \"overdue\";\n"
        "    kinds = [\"supervison\", \"supervision\", \"supervision\"]; },\n"
        "  { name = \"observed\"; title = \"Observed\";\n"
        "    kinds = [\"supervision\"]; },\n"
        "  { name = \"ranged\"; title = \"Ranged\"; derived = \"days_overdue\"; kinds = "
        "[\"appraisal\"];\n"
        "    aggregate = \"max\";\n"
        "    min = 0;\n"
        "    max = 100; } );\n";

    EXPECT_ERRORS(
        *state, text, {"\"No kinds\"", "metrics.no_kinds.kinds: required key is missing"},
        {"kinds = []", "metrics.empty.kinds: must name at least one kind of review, like "
                       "[\"supervision\"]"},
        {"supervison", "metrics.unknown.kinds[1]: \"supervison\" is not a kind of review (name "
                       "one of the kinds in kinds, or \"training\")"},
        {"supervison", "metrics.unknown.kinds[3]: \"supervision\" is listed twice"},
        {"kinds = [\"supervision\"]; },", "metrics.observed.kinds: only a derived metric counts "
                                          "kinds of review (add derived = \"compliance\", "
                                          "\"overdue\" or \"days_overdue\", or remove kinds)"},
        {"aggregate = \"max\"", "metrics.ranged.aggregate: is not for a derived metric: carehubd "
                                "works out its values from the reviews"},
        {"min = 0;", "metrics.ranged.min: is not for a derived metric: carehubd works out its "
                     "values from the reviews"},
        {"max = 100;", "metrics.ranged.max: is not for a derived metric: carehubd works out its "
                       "values from the reviews"});
}

static void
test_training_word_needs_a_training_kind(void **state)
{
    static const char text[] = MINIMAL
        "kinds = ( { name = \"supervision\"; title = \"S\"; recurring = { every = \"6 weeks\"; }; "
        "} );\n"
        "metrics = ( { name = \"t\"; title = \"T\"; derived = \"compliance\";\n"
        "  kinds = [\"training\"]; } );\n";

    EXPECT_ERRORS(*state, text,
                  {"[\"training\"]", "metrics.t.kinds[1]: \"training\" means the kind with "
                                     "training = true, and no kind has it"});
}

static void
test_too_many_kinds_and_roles(void **state)
{
    char text[8192];
    size_t used;

    used = (size_t)snprintf(text, sizeof(text),
                            MINIMAL KINDS "kpi = { alert_roles = [\"r1\", \"r2\", \"r3\", \"r4\", "
                                          "\"r5\", \"r6\", \"r7\", \"r8\", \"r9\"]; };\n"
                                          "metrics = ( { name = \"m\"; title = \"M\"; derived = "
                                          "\"overdue\";\n  kinds = [");
    for (int i = 0; i <= METRIC_MAX_KINDS; i++)
        used +=
            (size_t)snprintf(text + used, sizeof(text) - used, "%s\"supervision\"", i ? ", " : "");
    snprintf(text + used, sizeof(text) - used,
             "];\n  alert_roles = [\"a\", \"b\",\n \"a\"]; } );\n");
    EXPECT_ERRORS(*state, text,
                  {"alert_roles = [\"r1\"", "kpi.alert_roles: has 9 entries; at most 8 are "
                                            "allowed"},
                  {"kinds = [", "metrics.m.kinds: has 17 entries; at most 16 are allowed"},
                  {"kinds = [", "metrics.m.kinds[2]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[3]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[4]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[5]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[6]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[7]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[8]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[9]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[10]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[11]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[12]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[13]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[14]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[15]: \"supervision\" is listed twice"},
                  {"kinds = [", "metrics.m.kinds[16]: \"supervision\" is listed twice"},
                  {" \"a\"]; } );", "metrics.m.alert_roles[3]: \"a\" is listed twice"});
}

static void
test_role_too_long(void **state)
{
    char text[1024], what[512];
    char role[KIND_NAME_MAX + 2];

    memset(role, 'r', KIND_NAME_MAX + 1);
    role[KIND_NAME_MAX + 1] = '\0';
    snprintf(text, sizeof(text), MINIMAL "kpi = { alert_roles = [\"%s\"]; };\n", role);
    snprintf(what, sizeof(what), "kpi.alert_roles[1]: \"%s\" is longer than 64 bytes", role);
    EXPECT_ERRORS(*state, text, {"alert_roles", what});
}

static void
test_benchmark_mistakes(void **state)
{
    static const char text[] = MINIMAL
        "kpi = { week_starts = \"wednesday\"; };\n"
        "metrics = ( { name = \"los\"; title = \"LOS\"; periods = [\"week\", \"month\", "
        "\"quarter\"];\n"
        "  benchmarks = (\n"
        "    { value = 1; },\n"
        "    { name = \"no_value\"; },\n"
        "    { name = \"b3\"; value = 1;\n"
        "      at = \"2026-Q1\"; },\n"
        "    { name = \"b4\"; value = 1;\n"
        "      period = \"year\"; },\n"
        "    { name = \"b5\"; value = 1; period = \"quarter\";\n"
        "      at = \"2026-Q5\"; },\n"
        "    { name = \"b6\"; value = 1; period = \"month\";\n"
        "      at = \"2026-13\"; },\n"
        "    { name = \"b7\"; value = 1; period = \"week\";\n"
        "      at = \"2026-02-30\"; },\n"
        "    { name = \"b8\"; value = 1; period = \"week\"; at = 2026; },\n"
        "    { name = \"b9\"; value = \"high\"; period = \"fortnight\"; at = \"2026-W1\"; },\n"
        "    \"b10\" ); } );\n";

    EXPECT_ERRORS(
        *state, text, {"{ value = 1; }", "metrics.los.benchmarks[1].name: required key is missing"},
        {"no_value", "metrics.los.benchmarks[2].value: required key is missing"},
        {"at = \"2026-Q1\"", "metrics.los.benchmarks[3].at: needs period to say which kind of "
                             "period it names (like period = \"quarter\"; at = \"2026-Q1\")"},
        {"period = \"year\"", "metrics.los.benchmarks[4].period: \"year\" is not one of this "
                              "metric's periods (week, month and quarter)"},
        {"2026-Q5", "metrics.los.benchmarks[5].at: \"2026-Q5\" is not a quarter (write it like "
                    "\"2026-Q4\")"},
        {"2026-13", "metrics.los.benchmarks[6].at: \"2026-13\" is not a month (write it like "
                    "\"2026-11\")"},
        {"2026-02-30", "metrics.los.benchmarks[7].at: \"2026-02-30\" is not a week (write it "
                       "like \"2026-11-16\")"},
        {"at = 2026", "metrics.los.benchmarks[8].at: must be a string, not an integer"},
        {"\"high\"", "metrics.los.benchmarks[9].value: must be a number, not a string"},
        {"\"high\"", "metrics.los.benchmarks[9].period: \"fortnight\" is not a period (write "
                     "\"day\", \"week\", \"month\", \"quarter\" or \"year\")"},
        {"\"b10\"", "metrics.los.benchmarks[10]: must be a group { ... }, not a string"});
}

static void
test_duplicate_benchmarks(void **state)
{
    static const char text[] = MINIMAL
        "kpi = { week_starts = \"sunday\"; };\n"
        "metrics = ( { name = \"los\"; title = \"LOS\"; periods = [\"week\", \"quarter\"];\n"
        "  benchmarks = (\n"
        "    { name = \"regional\"; value = 1; },\n"
        "    { name = \"national\"; value = 2; period = \"quarter\"; },\n"
        "    { name = \"national\"; value = 3; period = \"quarter\"; at = \"2026-Q1\"; },\n"
        "    { name = \"national\"; value = 9; period = \"week\"; at = \"2026-11-15\"; },\n"
        "    { name = \"regional\"; value = 4; period = \"quarter\"; },\n"
        "    { name = \"regional\"; value = 5; },\n"
        "    { name = \"national\"; value = 6; period = \"quarter\"; },\n"
        "    { name = \"national\"; value = 7; period = \"quarter\"; at = \"2026-Q1\"; },\n"
        "    { name = \"national\"; value = 8; period = \"week\"; at = \"2026-11-21\"; },\n"
        "    { name = \"national\"; value = 10; period = \"week\"; at = \"2026-11-22\"; } ); } "
        ");\n";
    char what[4][256];

    snprintf(what[0], sizeof(what[0]),
             "metrics.los.benchmarks[6]: \"regional\" for every period is already given on line "
             "%d",
             line_of(text, "value = 1;"));
    snprintf(what[1], sizeof(what[1]),
             "metrics.los.benchmarks[7]: \"national\" for every quarter is already given on line "
             "%d",
             line_of(text, "value = 2;"));
    snprintf(what[2], sizeof(what[2]),
             "metrics.los.benchmarks[8]: \"national\" for 2026-Q1 is already given on line %d",
             line_of(text, "value = 3;"));
    snprintf(what[3], sizeof(what[3]),
             "metrics.los.benchmarks[9]: \"national\" for 2026-11-15 is already given on line %d",
             line_of(text, "value = 9;"));
    EXPECT_ERRORS(*state, text, {"value = 5;", what[0]}, {"value = 6;", what[1]},
                  {"value = 7;", what[2]}, {"value = 8;", what[3]});
}

static void
test_too_many_metrics(void **state)
{
    char *text = malloc(16384);
    size_t used;

    assert_non_null(text);
    used = (size_t)snprintf(text, 16384, MINIMAL "metrics = (\n");
    for (int i = 0; i <= METRICS_MAX; i++)
        used +=
            (size_t)snprintf(text + used, 16384 - used, "  { name = \"m%d\"; title = \"M\"; }%s\n",
                             i, i == METRICS_MAX ? "" : ",");
    snprintf(text + used, 16384 - used, ");\n");
    EXPECT_ERRORS(*state, text, {"metrics = (", "metrics: has 65 metrics; at most 64 are allowed"});
    free(text);
}

static void
test_too_many_benchmarks(void **state)
{
    char text[8192];
    size_t used;

    used = (size_t)snprintf(text, sizeof(text),
                            MINIMAL "metrics = ( { name = \"m\"; title = \"M\";\n  benchmarks = (");
    for (int i = 0; i <= METRIC_MAX_BENCHMARKS; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used,
                                 "%s{ name = \"b%d\"; value = %d; }", i ? ", " : "", i, i);
    snprintf(text + used, sizeof(text) - used, "); } );\n");
    EXPECT_ERRORS(*state, text,
                  {"benchmarks = (", "metrics.m.benchmarks: has 33 benchmarks; at most 32 are "
                                     "allowed"});
}

static void
test_kpi_numbers_out_of_range(void **state)
{
    static const char low[] = MINIMAL "kpi = {\n"
                                      "  retention_days = 0;\n"
                                      "  future_minutes = -1;\n"
                                      "  flush_ms = 99; };\n";
    static const char high[] = MINIMAL "kpi = {\n"
                                       "  retention_days = 36501;\n"
                                       "  future_minutes = 10081;\n"
                                       "  flush_ms = 60001; };\n";

    EXPECT_ERRORS(*state, low,
                  {"retention_days", "kpi.retention_days: 0 is out of range (1 to 36500)"},
                  {"future_minutes", "kpi.future_minutes: -1 is out of range (0 to 10080)"},
                  {"flush_ms", "kpi.flush_ms: 99 is out of range (100 to 60000)"});
    EXPECT_ERRORS(*state, high,
                  {"retention_days", "kpi.retention_days: 36501 is out of range (1 to 36500)"},
                  {"future_minutes", "kpi.future_minutes: 10081 is out of range (0 to 10080)"},
                  {"flush_ms", "kpi.flush_ms: 60001 is out of range (100 to 60000)"});
}

static void
test_every_error_reported_with_other_sections(void **state)
{
    /* A mistake in kinds does not hide one in metrics, nor one at the top. */
    static const char text[] = MINIMAL
        "kinds = ( { name = \"supervision\"; title = \"S\"; recurring = { every = \"6 wekes\"; }; "
        "} );\n"
        "metrics = ( { name = \"m\"; title = \"M\"; direction = \"sideways\"; } );\n"
        "colour = \"red\";\n";

    EXPECT_ERRORS(*state, text,
                  {"wekes", "kinds.supervision.recurring.every: \"6 wekes\" is not a length of "
                            "time (write it like \"6 weeks\" or \"12 months\")"},
                  {"sideways", "metrics.m.direction: \"sideways\" is not a direction (write "
                               "\"higher\" or \"lower\": which is better)"},
                  {"colour", "colour: unknown key"});
}

static void
test_free_accepts_empty(void **state)
{
    struct metrics metrics;

    (void)state;
    memset(&metrics, 0, sizeof(metrics));
    metrics_free(&metrics);
    metrics_free(NULL);
    assert_null(metrics.items);
}

static void
test_load_directly(void **state)
{
    struct fixture *fixture = *state;
    struct metrics metrics;
    config_t parsed;

    /* Without a kinds section, and with no kinds at all passed in. */
    config_init(&parsed);
    assert_int_equal(config_read_string(&parsed,
                                        "kpi = { flush_ms = 250; };\n"
                                        "metrics = ( { name = \"c\"; title = \"C\"; "
                                        "derived = \"compliance\"; kinds = [\"x\"]; } );\n"),
                     CONFIG_TRUE);
    fixture->errors.count = 0;
    assert_int_equal(
        metrics_load(config_root_setting(&parsed), "x.conf", NULL, &metrics, &fixture->errors),
        -EINVAL);
    assert_int_equal(fixture->errors.count, 1);
    assert_string_equal(fixture->errors.text[0],
                        "x.conf:2: metrics.c.kinds[1]: \"x\" is not a kind of review (name one of "
                        "the kinds in kinds, or \"training\")");
    assert_int_equal(metrics.flush_ms, 250);
    metrics_free(&metrics);
    config_destroy(&parsed);

    config_init(&parsed);
    assert_int_equal(
        config_read_string(&parsed, "metrics = ( { name = \"m\"; title = \"M\"; } );\n"),
        CONFIG_TRUE);
    fixture->errors.count = 0;
    assert_int_equal(
        metrics_load(config_root_setting(&parsed), "x.conf", NULL, &metrics, &fixture->errors), 0);
    assert_int_equal(metrics.count, 1);
    assert_string_equal(metrics.items[0].name, "m");
    metrics_free(&metrics);
    assert_null(metrics.items);
    config_destroy(&parsed);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_no_sections_gives_defaults),
        TEST(test_empty_sections),
        TEST(test_full_file_parses_exactly),
        TEST(test_defaults_of_one_metric),
        TEST(test_aggregate_names),
        TEST(test_week_starts_every_day),
        TEST(test_limits_of_kpi_numbers),
        TEST(test_thresholds_in_order_and_equal),
        TEST(test_reference_configuration),
        TEST(test_benchmarks_for_precedence),
        TEST(test_unknown_keys_everywhere),
        TEST(test_wrong_types),
        TEST(test_sections_of_the_wrong_type),
        TEST(test_missing_name_and_title),
        TEST(test_invalid_names),
        TEST(test_name_too_long),
        TEST(test_duplicate_names),
        TEST(test_unknown_names_of_things),
        TEST(test_percentiles_out_of_range),
        TEST(test_period_lists),
        TEST(test_alert_period_not_among_periods),
        TEST(test_thresholds_on_the_wrong_side),
        TEST(test_thresholds_need_direction),
        TEST(test_number_mistakes),
        TEST(test_thresholds_outside_the_range),
        TEST(test_derived_mistakes),
        TEST(test_training_word_needs_a_training_kind),
        TEST(test_too_many_kinds_and_roles),
        TEST(test_role_too_long),
        TEST(test_benchmark_mistakes),
        TEST(test_duplicate_benchmarks),
        TEST(test_too_many_metrics),
        TEST(test_too_many_benchmarks),
        TEST(test_kpi_numbers_out_of_range),
        TEST(test_every_error_reported_with_other_sections),
        TEST(test_free_accepts_empty),
        TEST(test_load_directly),
    };

    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
