/*
 * Unit tests of daemon/kinds: the "schedule", "kinds" and "courses" sections
 * of carehubd.conf, read through config_load() as the daemon reads them.
 *
 * A valid file must give exactly the expected structs; every mistake must be
 * reported, each as "FILE:LINE: key: reason" with the line of the setting at
 * fault.  Tests name that line by a marker: the first line of the file that
 * holds the marker text.
 */
#include "config_fixture.h"
#include "kinds.h"
#include "timefmt.h"

/* A valid training kind with one course, for tests about something else. */
#define TRAINING_KIND "  { name = \"training\"; title = \"Training\"; training = true; }\n"
#define ONE_COURSE                                                                                 \
    "courses = ( { name = \"fire_safety\"; title = \"Fire\"; valid = \"1 year\"; } );\n"

/* ---- valid files ---- */

static void
test_no_sections_gives_default_calendar(void **state)
{
    struct fixture *fixture = *state;
    const struct kinds *kinds = &fixture->config.kinds;

    load_valid(fixture, MINIMAL);
    assert_int_equal(kinds->kind_count, 0);
    assert_int_equal(kinds->course_count, 0);
    assert_null(kinds->training);
    assert_int_equal(kinds->calendar.send_minute, 9 * 60);
    assert_int_equal(kinds->calendar.working_days, 0x1f);
    assert_int_equal(kinds->calendar.closure_count, 0);
    assert_null(kinds->calendar.closures);
    assert_int_equal(kinds->calendar.missed_after_days, 14);
    assert_null(kinds_find(kinds, "supervision"));
    assert_null(kinds_find_course(kinds, "safeguarding"));
}

static void
test_empty_sections(void **state)
{
    struct fixture *fixture = *state;

    load_valid(fixture, MINIMAL "schedule = { };\nkinds = ();\ncourses = [];\n");
    assert_int_equal(fixture->config.kinds.kind_count, 0);
    assert_int_equal(fixture->config.kinds.course_count, 0);
    assert_int_equal(fixture->config.kinds.calendar.working_days, 0x1f);
}

static const char full_text[] = MINIMAL
    "schedule = {\n"
    "    send_time = \"07:30\";\n"
    "    working_days = [\"mon\", \"Tuesday\", \"WED\", \"Thu\", \"Fri\", \"Sat\"];\n"
    "    closures = [\"2026-12-28\", \"2026-12-25\", \"2027-01-01\", \"2026-12-25\"];\n"
    "    missed_after_days = 30;\n"
    "};\n"
    "kinds = (\n"
    "    {\n"
    "        name = \"supervision\";\n"
    "        title = \"Supervision\";\n"
    "        policy = \"https://intranet.example.org/policies/supervision\";\n"
    "        applies_to = { roles = [\"care_worker\", \"senior_care_worker\"]; teams = [\"T1\"]; "
    "};\n"
    "        recurring = { every = \"6 weeks\"; first = \"4 weeks\"; };\n"
    "        reminders = [14, 3, 0];\n"
    "        grace_days = 2;\n"
    "        escalation = (\n"
    "            { after_days = 1;  notify = [\"manager\"]; },\n"
    "            { after_days = 7;  notify = [\"manager+1\"]; },\n"
    "            { after_days = 14; notify = [\"manager+2\", \"role:registered_manager\", "
    "\"staff:S0001\"]; }\n"
    "        );\n"
    "        repeat_days = 7;\n"
    "        during_absence = \"restart\";\n"
    "    },\n"
    "    {\n"
    "        name = \"induction\"; title = \"Induction check-in\";\n"
    "        milestones = {\n"
    "            after = \"staff.hired\";\n"
    "            steps = (\n"
    "                { name = \"week1\"; title = \"Week 1 check-in\"; at = \"1 week\"; },\n"
    "                { name = \"week4\"; title = \"Week 4 check-in\"; at = \"4 weeks\"; },\n"
    "                { name = \"month3\"; title = \"Month 3 review\"; at = \"3 Months\"; }\n"
    "            );\n"
    "        };\n"
    "        reminders = [3, 0];\n"
    "    },\n"
    "    {\n"
    "        name = \"return_to_work\"; title = \"Return-to-work conversation\";\n"
    "        milestones = {\n"
    "            after = \"absence.ended\"; absence_kinds = [\"sickness\", \"injury\"];\n"
    "            steps = ( { name = \"talk\"; title = \"Talk\"; at = \"0 days\"; } );\n"
    "        };\n"
    "        during_absence = \"continue\";\n"
    "    },\n"
    "    { name = \"concern\"; title = \"Concern\"; milestones = { after = \"concern.opened\";\n"
    "      steps = ( { name = \"welfare_check\"; title = \"Welfare\"; at = \"2 days\"; } ); }; },\n"
    "    { name = \"appraisal\"; title = \"Appraisal\"; recurring = { every = \"1 year\"; }; },\n"
    "    { name = \"action\"; title = \"Agreed action\"; assigned = true; reminders = [7, 0]; },\n"
    "    { name = \"training\"; title = \"Training renewal\"; training = true; reminders = [30, "
    "7]; }\n"
    ");\n"
    "courses = (\n"
    "    { name = \"safeguarding\"; title = \"Safeguarding adults\"; valid = \"3 years\";\n"
    "      first = \"12 weeks\"; applies_to = { roles = [\"care_worker\"]; }; },\n"
    "    { name = \"fire_safety\"; title = \"Fire safety\"; valid = \"1 year\"; }\n"
    ");\n";

static void
test_full_file_parses_exactly(void **state)
{
    struct fixture *fixture = *state;
    const struct kinds *kinds = &fixture->config.kinds;
    const struct kind *kind;
    const struct course *course;

    load_valid(fixture, full_text);

    assert_int_equal(kinds->calendar.send_minute, 7 * 60 + 30);
    assert_int_equal(kinds->calendar.working_days, 0x3f);
    assert_int_equal(kinds->calendar.missed_after_days, 30);
    assert_int_equal(kinds->calendar.closure_count, 3); /* sorted, the repeat dropped */
    assert_int_equal(kinds->calendar.closures[0], timefmt_days_from_civil(2026, 12, 25));
    assert_int_equal(kinds->calendar.closures[1], timefmt_days_from_civil(2026, 12, 28));
    assert_int_equal(kinds->calendar.closures[2], timefmt_days_from_civil(2027, 1, 1));

    assert_int_equal(kinds->kind_count, 7);
    kind = &kinds->kinds[0];
    assert_string_equal(kind->name, "supervision");
    assert_string_equal(kind->title, "Supervision");
    assert_string_equal(kind->policy, "https://intranet.example.org/policies/supervision");
    assert_int_equal(kind->line, line_of(full_text, "name = \"supervision\"") - 1);
    assert_int_equal(kind->applies.role_count, 2);
    assert_string_equal(kind->applies.roles[0], "care_worker");
    assert_string_equal(kind->applies.roles[1], "senior_care_worker");
    assert_int_equal(kind->applies.team_count, 1);
    assert_string_equal(kind->applies.teams[0], "T1");
    assert_int_equal(kind->arises, KIND_RECURRING);
    assert_int_equal(kind->every.count, 6);
    assert_int_equal(kind->every.unit, PERIOD_WEEKS);
    assert_int_equal(kind->first.count, 4);
    assert_int_equal(kind->first.unit, PERIOD_WEEKS);
    assert_int_equal(kind->reminder_count, 3);
    assert_int_equal(kind->reminders[0], 14);
    assert_int_equal(kind->reminders[1], 3);
    assert_int_equal(kind->reminders[2], 0);
    assert_int_equal(kind->grace_days, 2);
    assert_int_equal(kind->escalation_count, 3);
    assert_int_equal(kind->escalations[0].after_days, 1);
    assert_int_equal(kind->escalations[0].target_count, 1);
    assert_int_equal(kind->escalations[0].targets[0].type, TARGET_MANAGER);
    assert_int_equal(kind->escalations[1].after_days, 7);
    assert_int_equal(kind->escalations[1].targets[0].type, TARGET_MANAGER_UP);
    assert_int_equal(kind->escalations[1].targets[0].levels, 1);
    assert_int_equal(kind->escalations[2].after_days, 14);
    assert_int_equal(kind->escalations[2].target_count, 3);
    assert_int_equal(kind->escalations[2].targets[0].type, TARGET_MANAGER_UP);
    assert_int_equal(kind->escalations[2].targets[0].levels, 2);
    assert_int_equal(kind->escalations[2].targets[1].type, TARGET_ROLE);
    assert_string_equal(kind->escalations[2].targets[1].name, "registered_manager");
    assert_int_equal(kind->escalations[2].targets[2].type, TARGET_STAFF);
    assert_string_equal(kind->escalations[2].targets[2].name, "S0001");
    assert_int_equal(kind->repeat_days, 7);
    assert_int_equal(kind->during_absence, ABSENCE_RESTART);

    kind = &kinds->kinds[1];
    assert_string_equal(kind->name, "induction");
    assert_string_equal(kind->title, "Induction check-in");
    assert_null(kind->policy);
    assert_int_equal(kind->applies.role_count, 0);
    assert_int_equal(kind->applies.team_count, 0);
    assert_int_equal(kind->arises, KIND_MILESTONE);
    assert_int_equal(kind->trigger, TRIGGER_STAFF_HIRED);
    assert_int_equal(kind->step_count, 3);
    assert_string_equal(kind->steps[0].name, "week1");
    assert_string_equal(kind->steps[0].title, "Week 1 check-in");
    assert_int_equal(kind->steps[0].at.count, 1);
    assert_int_equal(kind->steps[0].at.unit, PERIOD_WEEKS);
    assert_string_equal(kind->steps[1].name, "week4");
    assert_int_equal(kind->steps[1].at.count, 4);
    assert_string_equal(kind->steps[2].name, "month3");
    assert_string_equal(kind->steps[2].title, "Month 3 review");
    assert_int_equal(kind->steps[2].at.count, 3);
    assert_int_equal(kind->steps[2].at.unit, PERIOD_MONTHS);
    assert_int_equal(kind->absence_kind_count, 0);
    assert_int_equal(kind->reminder_count, 2);
    assert_int_equal(kind->escalation_count, 0);
    assert_int_equal(kind->repeat_days, 0);
    assert_int_equal(kind->grace_days, 0);
    assert_int_equal(kind->during_absence, ABSENCE_SHIFT); /* the default */

    kind = &kinds->kinds[2];
    assert_string_equal(kind->name, "return_to_work");
    assert_int_equal(kind->arises, KIND_MILESTONE);
    assert_int_equal(kind->trigger, TRIGGER_ABSENCE_ENDED);
    assert_int_equal(kind->absence_kind_count, 2);
    assert_string_equal(kind->absence_kinds[0], "sickness");
    assert_string_equal(kind->absence_kinds[1], "injury");
    assert_int_equal(kind->step_count, 1);
    assert_int_equal(kind->steps[0].at.count, 0);
    assert_int_equal(kind->steps[0].at.unit, PERIOD_DAYS);
    assert_int_equal(kind->reminder_count, 0);
    assert_int_equal(kind->during_absence, ABSENCE_CONTINUE);

    kind = &kinds->kinds[3];
    assert_string_equal(kind->name, "concern");
    assert_int_equal(kind->trigger, TRIGGER_CONCERN_OPENED);
    assert_int_equal(kind->steps[0].at.count, 2);

    kind = &kinds->kinds[4];
    assert_string_equal(kind->name, "appraisal");
    assert_int_equal(kind->every.count, 1);
    assert_int_equal(kind->every.unit, PERIOD_YEARS);
    assert_int_equal(kind->first.count, 1); /* first defaults to every */
    assert_int_equal(kind->first.unit, PERIOD_YEARS);

    kind = &kinds->kinds[5];
    assert_string_equal(kind->name, "action");
    assert_int_equal(kind->arises, KIND_ASSIGNED);
    assert_int_equal(kind->reminder_count, 2);
    assert_int_equal(kind->reminders[0], 7);

    kind = &kinds->kinds[6];
    assert_string_equal(kind->name, "training");
    assert_int_equal(kind->arises, KIND_TRAINING);
    assert_ptr_equal(kinds->training, kind);

    assert_int_equal(kinds->course_count, 2);
    course = &kinds->courses[0];
    assert_string_equal(course->name, "safeguarding");
    assert_string_equal(course->title, "Safeguarding adults");
    assert_int_equal(course->valid.count, 3);
    assert_int_equal(course->valid.unit, PERIOD_YEARS);
    assert_true(course->has_first);
    assert_int_equal(course->first.count, 12);
    assert_int_equal(course->first.unit, PERIOD_WEEKS);
    assert_int_equal(course->applies.role_count, 1);
    assert_string_equal(course->applies.roles[0], "care_worker");
    course = &kinds->courses[1];
    assert_string_equal(course->name, "fire_safety");
    assert_false(course->has_first);
    assert_int_equal(course->valid.count, 1);
    assert_int_equal(course->applies.role_count, 0);

    assert_ptr_equal(kinds_find(kinds, "induction"), &kinds->kinds[1]);
    assert_ptr_equal(kinds_find(kinds, "training"), &kinds->kinds[6]);
    assert_null(kinds_find(kinds, "Supervision"));
    assert_ptr_equal(kinds_find_course(kinds, "fire_safety"), &kinds->courses[1]);
    assert_null(kinds_find_course(kinds, "supervision"));
}

static void
test_reference_configuration(void **state)
{
    struct fixture *fixture = *state;
    const struct kinds *kinds = &fixture->config.kinds;
    const struct kind *kind;

    load_reference(fixture);
    assert_int_equal(kinds->calendar.send_minute, 9 * 60);
    assert_int_equal(kinds->calendar.working_days, 0x1f);
    assert_int_equal(kinds->calendar.closure_count, 16);
    assert_int_equal(kinds->calendar.closures[0], timefmt_days_from_civil(2026, 1, 1));
    assert_int_equal(kinds->calendar.closures[15], timefmt_days_from_civil(2027, 12, 28));
    assert_int_equal(kinds->calendar.missed_after_days, 14);

    kind = kinds_find(kinds, "supervision");
    assert_non_null(kind);
    assert_int_equal(kind->arises, KIND_RECURRING);
    assert_int_equal(kind->every.count, 6);
    assert_int_equal(kind->every.unit, PERIOD_WEEKS);
    assert_int_equal(kind->first.count, 4);
    assert_int_equal(kind->applies.role_count, 3);
    assert_int_equal(kind->escalation_count, 3);
    assert_int_equal(kind->escalations[2].targets[0].type, TARGET_ROLE);
    assert_string_equal(kind->escalations[2].targets[0].name, "registered_manager");
    assert_int_equal(kind->repeat_days, 7);

    kind = kinds_find(kinds, "appraisal");
    assert_non_null(kind);
    assert_int_equal(kind->every.count, 12);
    assert_int_equal(kind->every.unit, PERIOD_MONTHS);
    assert_int_equal(kind->applies.role_count, 0);

    kind = kinds_find(kinds, "induction");
    assert_non_null(kind);
    assert_int_equal(kind->trigger, TRIGGER_STAFF_HIRED);
    assert_int_equal(kind->step_count, 3);

    kind = kinds_find(kinds, "probation");
    assert_non_null(kind);
    assert_int_equal(kind->step_count, 2);
    assert_int_equal(kind->steps[1].at.count, 6);
    assert_int_equal(kind->steps[1].at.unit, PERIOD_MONTHS);

    kind = kinds_find(kinds, "return_to_work");
    assert_non_null(kind);
    assert_int_equal(kind->trigger, TRIGGER_ABSENCE_ENDED);
    assert_int_equal(kind->absence_kind_count, 1);
    assert_string_equal(kind->absence_kinds[0], "sickness");

    kind = kinds_find(kinds, "concern");
    assert_non_null(kind);
    assert_int_equal(kind->trigger, TRIGGER_CONCERN_OPENED);
    assert_int_equal(kind->step_count, 5);
    assert_string_equal(kind->steps[0].name, "welfare_check");
    assert_string_equal(kind->steps[4].name, "proportionality_review");

    kind = kinds_find(kinds, "action");
    assert_non_null(kind);
    assert_int_equal(kind->arises, KIND_ASSIGNED);

    assert_non_null(kinds->training);
    assert_string_equal(kinds->training->name, "training");
    assert_int_equal(kinds->course_count, 5);
    assert_non_null(kinds_find_course(kinds, "moving_and_handling"));
    assert_int_equal(kinds_find_course(kinds, "safeguarding")->valid.count, 3);
    assert_int_equal(kinds_find_course(kinds, "safeguarding")->valid.unit, PERIOD_YEARS);
    assert_non_null(kinds_find_course(kinds, "fire_safety"));
    assert_non_null(kinds_find_course(kinds, "infection_control"));
    assert_non_null(kinds_find_course(kinds, "basic_life_support"));
    for (int i = 0; i < kinds->course_count; i++) {
        assert_true(kinds->courses[i].has_first);
        assert_int_equal(kinds->courses[i].first.count, 12);
        assert_int_equal(kinds->courses[i].first.unit, PERIOD_WEEKS);
    }
}

static void
test_periods_every_unit(void **state)
{
    struct fixture *fixture = *state;
    static const struct {
        const char *text;
        int count;
        enum period_unit unit;
    } cases[] = {{"1 day", 1, PERIOD_DAYS},        {"10 days", 10, PERIOD_DAYS},
                 {"1 week", 1, PERIOD_WEEKS},      {"2 Weeks", 2, PERIOD_WEEKS},
                 {"1 month", 1, PERIOD_MONTHS},    {"18 MONTHS", 18, PERIOD_MONTHS},
                 {"1 year", 1, PERIOD_YEARS},      {"3 years", 3, PERIOD_YEARS},
                 {"1000 days", 1000, PERIOD_DAYS}, {"2 week", 2, PERIOD_WEEKS}};
    char text[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text),
                 MINIMAL "kinds = ( { name = \"k\"; title = \"K\"; recurring = { every = \"%s\"; "
                         "}; } );\n",
                 cases[i].text);
        load_valid(fixture, text);
        assert_int_equal(fixture->config.kinds.kinds[0].every.count, cases[i].count);
        assert_int_equal(fixture->config.kinds.kinds[0].every.unit, cases[i].unit);
    }
}

static void
test_format_period(void **state)
{
    (void)state;
    static const struct {
        struct period period;
        const char *text;
    } cases[] = {{{1, PERIOD_DAYS}, "1 day"},     {{0, PERIOD_DAYS}, "0 days"},
                 {{1, PERIOD_WEEKS}, "1 week"},   {{6, PERIOD_WEEKS}, "6 weeks"},
                 {{1, PERIOD_MONTHS}, "1 month"}, {{12, PERIOD_MONTHS}, "12 months"},
                 {{1, PERIOD_YEARS}, "1 year"},   {{3, PERIOD_YEARS}, "3 years"}};
    char buf[32];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kinds_format_period(&cases[i].period, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].text);
    }
    kinds_format_period(&cases[3].period, buf, 4); /* cut short, never overrun */
    assert_string_equal(buf, "6 w");
}

/* Steps in different units are put in order by their length: 4 weeks comes before 1 month. */
static void
test_steps_in_order_across_units(void **state)
{
    struct fixture *fixture = *state;

    load_valid(fixture,
               MINIMAL "kinds = ( { name = \"plan\"; title = \"Plan\"; milestones = { after = "
                       "\"staff.hired\"; steps = (\n"
                       "  { name = \"a\"; title = \"A\"; at = \"0 days\"; },\n"
                       "  { name = \"b\"; title = \"B\"; at = \"0 days\"; },\n"
                       "  { name = \"c\"; title = \"C\"; at = \"4 weeks\"; },\n"
                       "  { name = \"d\"; title = \"D\"; at = \"1 month\"; },\n"
                       "  { name = \"e\"; title = \"E\"; at = \"12 months\"; },\n"
                       "  { name = \"f\"; title = \"F\"; at = \"1 year\"; }\n"
                       "); }; } );\n");
    assert_int_equal(fixture->config.kinds.kinds[0].step_count, 6);
}

static void
test_send_time_forms(void **state)
{
    struct fixture *fixture = *state;

    load_valid(fixture, MINIMAL "schedule = { send_time = \"9:05\"; };\n");
    assert_int_equal(fixture->config.kinds.calendar.send_minute, 9 * 60 + 5);
    load_valid(fixture, MINIMAL "schedule = { send_time = \"00:00\"; };\n");
    assert_int_equal(fixture->config.kinds.calendar.send_minute, 0);
    load_valid(fixture, MINIMAL "schedule = { send_time = \"23:59\"; };\n");
    assert_int_equal(fixture->config.kinds.calendar.send_minute, 23 * 60 + 59);
}

/* ---- mistakes ---- */

static void
test_unknown_keys_everywhere(void **state)
{
    static const char text[] = MINIMAL
        "schedule = {\n"
        "  sendtime = \"09:00\";\n"
        "};\n"
        "kinds = (\n"
        "  { name = \"supervision\"; title = \"Supervision\";\n"
        "    intervall = 3;\n"
        "    applies_to = { roles = [\"nurse\"]; grade = \"B5\"; };\n"
        "    recurring = { every = \"6 weeks\"; start = \"1 week\"; };\n"
        "    escalation = ( { after_days = 1; notify = [\"manager\"]; by = \"email\"; } );\n"
        "  },\n"
        "  { name = \"induction\"; title = \"Induction\";\n"
        "    milestones = { after = \"staff.hired\"; when = 1;\n"
        "      steps = ( { name = \"week1\"; title = \"Week 1\"; at = \"1 week\"; due = 1; "
        "} ); };\n"
        "  },\n" TRAINING_KIND ");\n"
        "courses = ( { name = \"fire_safety\"; title = \"Fire\"; valid = \"1 year\"; "
        "renew = true; } );\n";

    EXPECT_ERRORS(*state, text, {"sendtime", "schedule.sendtime: unknown key"},
                  {"intervall", "kinds.supervision.intervall: unknown key"},
                  {"grade", "kinds.supervision.applies_to.grade: unknown key"},
                  {"start = ", "kinds.supervision.recurring.start: unknown key"},
                  {"by = ", "kinds.supervision.escalation[1].by: unknown key"},
                  {"when = 1", "kinds.induction.milestones.when: unknown key"},
                  {"due = 1", "kinds.induction.milestones.steps.week1.due: unknown key"},
                  {"renew", "courses.fire_safety.renew: unknown key"});
}

static void
test_wrong_types(void **state)
{
    static const char text[] =
        MINIMAL "schedule = {\n"
                "  send_time = 900;\n"
                "  missed_after_days = \"14\";\n"
                "};\n"
                "kinds = (\n"
                "  { name = \"supervision\"; title = \"Supervision\";\n"
                "    recurring = { every = 6; };\n"
                "    reminders = \"14, 3, 0\";\n"
                "    grace_days = 1.5;\n"
                "    applies_to = [\"nurse\"];\n"
                "  },\n"
                "  { name = \"action\"; title = \"Action\"; assigned = \"yes\"; },\n"
                "  { name = \"plan\"; title = \"Plan\"; milestones = \"staff.hired\"; },\n"
                "  \"appraisal\" );\n";

    EXPECT_ERRORS(
        *state, text, {"send_time", "schedule.send_time: must be a string, not an integer"},
        {"missed_after_days", "schedule.missed_after_days: must be an integer, not a string"},
        {"every = 6", "kinds.supervision.recurring.every: must be a length of time in "
                      "quotes, like \"6 weeks\", not an integer"},
        {"reminders", "kinds.supervision.reminders: must be a list like [14, 3, 0], not a string"},
        {"grace_days",
         "kinds.supervision.grace_days: must be an integer, not a number with a fraction"},
        {"applies_to", "kinds.supervision.applies_to: must be a group { ... }, not an "
                       "array"},
        {"assigned", "kinds.action.assigned: must be true or false, not a string"},
        {"milestones = \"", "kinds.plan.milestones: must be a group { ... }, not a "
                            "string"},
        {"\"appraisal\"", "kinds[4]: must be a group { ... }, not a string"});
}

static void
test_sections_of_the_wrong_type(void **state)
{
    EXPECT_ERRORS(
        *state,
        MINIMAL "schedule = [\"Mon\"];\n"
                "kinds = { name = \"supervision\"; };\n"
                "courses = \"safeguarding\";\n",
        {"schedule", "schedule: must be a group { ... }, not an array"},
        {"kinds = {", "kinds: must be a list of kinds ( { ... }, { ... } ), not a group"},
        {"courses", "courses: must be a list of courses ( { ... }, { ... } ), not a string"});
}

static void
test_missing_name_and_title(void **state)
{
    static const char text[] =
        MINIMAL "kinds = (\n"
                "  { title = \"Supervision\"; recurring = { every = \"6 weeks\"; }; },\n"
                "  { name = \"appraisal\"; recurring = { every = \"1 year\"; }; },\n"
                "  { name = \"plan\"; title = \"Plan\"; milestones = { after = \"staff.hired\";\n"
                "    steps = ( { at = \"1 week\"; } ); }; },\n"
                "  { name = \"\"; title = \"\"; assigned = true; },\n" TRAINING_KIND ");\n"
                "courses = ( { valid = \"1 year\"; } );\n";

    EXPECT_ERRORS(*state, text,
                  {"{ title = \"Supervision\"", "kinds[1].name: required key is missing"},
                  {"name = \"appraisal\"", "kinds.appraisal.title: required key is missing"},
                  {"{ at = ", "kinds.plan.milestones.steps[1].name: required key is missing"},
                  {"{ at = ", "kinds.plan.milestones.steps[1].title: required key is missing"},
                  {"name = \"\"", "kinds[4].name: must not be empty"},
                  {"name = \"\"", "kinds[4].title: must not be empty"},
                  {"courses", "courses[1].name: required key is missing"},
                  {"courses", "courses[1].title: required key is missing"});
}

static void
test_invalid_names(void **state)
{
    static const char text[] = MINIMAL
        "kinds = (\n"
        "  { name = \"Super Vision\"; title = \"S\"; recurring = { every = \"6 weeks\"; }; },\n"
        "  { name = \"plan\"; title = \"Plan\"; milestones = { after = \"staff.hired\";\n"
        "    steps = ( { name = \"week-1\"; title = \"W\"; at = \"1 week\"; } ); }; },\n"
        "  { name = 7; title = \"Seven\"; assigned = true; }\n"
        ");\n";

    EXPECT_ERRORS(*state, text,
                  {"Super Vision", "kinds[1].name: \"Super Vision\" is not a valid name (use 1 to "
                                   "64 of a-z, 0-9 and _, like \"week_1\")"},
                  {"week-1", "kinds.plan.milestones.steps[1].name: \"week-1\" is not a valid name "
                             "(use 1 to 64 of a-z, 0-9 and _, like \"week_1\")"},
                  {"name = 7", "kinds[3].name: must be a string, not an integer"});
}

static void
test_name_too_long(void **state)
{
    char name[KIND_NAME_MAX + 2];
    char text[1024], what[512];

    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(text, sizeof(text),
             MINIMAL "kinds = ( { name = \"%s\"; title = \"T\"; assigned = "
                     "true; } );\n",
             name);
    snprintf(what, sizeof(what),
             "kinds[1].name: \"%s\" is not a valid name (use 1 to 64 of a-z, 0-9 and _, like "
             "\"week_1\")",
             name);
    EXPECT_ERRORS(*state, text, {"kinds", what});
    name[KIND_NAME_MAX] = '\0'; /* exactly the longest */
    snprintf(text, sizeof(text),
             MINIMAL "kinds = ( { name = \"%s\"; title = \"T\"; assigned = "
                     "true; } );\n",
             name);
    load_valid(*state, text);
}

static void
test_duplicate_names(void **state)
{
    static const char text[] = MINIMAL
        "kinds = (\n"
        "  { name = \"supervision\"; title = \"A\"; recurring = { every = \"6 weeks\"; }; },\n"
        "  { name = \"plan\"; title = \"Plan\"; milestones = { after = \"staff.hired\";\n"
        "    steps = ( { name = \"week1\"; title = \"W\"; at = \"1 week\"; },\n"
        "              { name = \"week1\"; title = \"X\"; at = \"2 weeks\"; } ); }; },\n"
        "  { name = \"supervision\"; title = \"B\"; recurring = { every = \"4 weeks\"; }; "
        "},\n" TRAINING_KIND ");\n"
        "courses = (\n"
        "  { name = \"fire_safety\"; title = \"Fire\"; valid = \"1 year\"; },\n"
        "  { name = \"fire_safety\"; title = \"Fire again\"; valid = \"2 years\"; }\n"
        ");\n";
    char supervision[128], step[128], course[128];

    snprintf(supervision, sizeof(supervision),
             "kinds.supervision.name: \"supervision\" is already the name of the kind on line %d",
             line_of(text, "title = \"A\""));
    snprintf(step, sizeof(step),
             "kinds.plan.milestones.steps.week1.name: \"week1\" is already the name of the step "
             "on line %d",
             line_of(text, "title = \"W\""));
    snprintf(course, sizeof(course),
             "courses.fire_safety.name: \"fire_safety\" is already the name of the course on "
             "line %d",
             line_of(text, "title = \"Fire\""));
    EXPECT_ERRORS(*state, text, {"title = \"B\"", supervision}, {"title = \"X\"", step},
                  {"Fire again", course});
}

static void
test_bad_periods(void **state)
{
    static const char text[] = MINIMAL
        "kinds = (\n"
        "  { name = \"a\"; title = \"A\"; recurring = { every = \"6 wekes\"; first = \"six "
        "weeks\"; }; },\n"
        "  { name = \"b\"; title = \"B\"; recurring = { every = \"0 weeks\"; first = \"-4 "
        "weeks\"; }; },\n"
        "  { name = \"c\"; title = \"C\"; recurring = { every = \"1001 days\"; first = \"0 "
        "days\"; }; },\n"
        "  { name = \"d\"; title = \"D\"; recurring = { every = \"6weeks\"; first = \"6 "
        "weeks later\"; }; },\n"
        "  { name = \"e\"; title = \"E\"; recurring = { first = \"1 week\"; }; },\n" TRAINING_KIND
        ");\n"
        "courses = (\n"
        "  { name = \"fire_safety\"; title = \"Fire\"; valid = \"0 years\"; first = \"0 "
        "weeks\"; },\n"
        "  { name = \"safeguarding\"; title = \"Safe\"; valid = \"-3 years\"; first = 12; },\n"
        "  { name = \"first_aid\"; title = \"First aid\"; }\n"
        ");\n";

    EXPECT_ERRORS(
        *state, text,
        {"6 wekes", "kinds.a.recurring.every: \"6 wekes\" is not a length of time (write it like "
                    "\"6 weeks\" or \"12 months\")"},
        {"6 wekes", "kinds.a.recurring.first: \"six weeks\" is not a length of time (write it "
                    "like \"6 weeks\" or \"12 months\")"},
        {"0 weeks", "kinds.b.recurring.every: \"0 weeks\" is no time at all (it must be at least "
                    "\"1 day\")"},
        {"0 weeks", "kinds.b.recurring.first: \"-4 weeks\" is negative (write a length of time "
                    "like \"6 weeks\")"},
        {"1001 days", "kinds.c.recurring.every: \"1001 days\" is too long (at most 1000 days, "
                      "weeks, months or years)"},
        {"1001 days", "kinds.c.recurring.first: \"0 days\" is no time at all (it must be at least "
                      "\"1 day\")"},
        {"6weeks", "kinds.d.recurring.every: \"6weeks\" is not a length of time (write it like "
                   "\"6 weeks\" or \"12 months\")"},
        {"6weeks", "kinds.d.recurring.first: \"6 weeks later\" is not a length of time (write it "
                   "like \"6 weeks\" or \"12 months\")"},
        {"name = \"e\"", "kinds.e.recurring.every: required key is missing"},
        {"0 years", "courses.fire_safety.valid: \"0 years\" is no time at all (it must be at "
                    "least \"1 day\")"},
        {"0 years", "courses.fire_safety.first: \"0 weeks\" is no time at all (it must be at "
                    "least \"1 day\")"},
        {"-3 years", "courses.safeguarding.valid: \"-3 years\" is negative (write a length of "
                     "time like \"6 weeks\")"},
        {"-3 years", "courses.safeguarding.first: must be a length of time in quotes, like \"6 "
                     "weeks\", not an integer"},
        {"First aid", "courses.first_aid.valid: required key is missing"});
}

static void
test_reminders_out_of_order_or_range(void **state)
{
    static const char text[] =
        MINIMAL "kinds = (\n"
                "  { name = \"a\"; title = \"A\"; assigned = true; reminders = [3, 14]; },\n"
                "  { name = \"b\"; title = \"B\"; assigned = true; reminders = [7, 7]; },\n"
                "  { name = \"c\"; title = \"C\"; assigned = true; reminders = [400, -1]; },\n"
                "  { name = \"d\"; title = \"D\"; assigned = true;\n"
                "    reminders = [9, 8, 7, 6, 5, 4, 3, 2, 1]; },\n"
                "  { name = \"e\"; title = \"E\"; assigned = true; reminders = ( 3, \"0\" ); }\n"
                ");\n";

    EXPECT_ERRORS(*state, text,
                  {"[3, 14]", "kinds.a.reminders[2]: 14 comes after 3; list the days before from "
                              "the most to the fewest, each once, like [14, 3, 0]"},
                  {"[7, 7]", "kinds.b.reminders[2]: 7 comes after 7; list the days before from "
                             "the most to the fewest, each once, like [14, 3, 0]"},
                  {"[400, -1]", "kinds.c.reminders[1]: 400 is out of range (0 to 366)"},
                  {"[400, -1]", "kinds.c.reminders[2]: -1 is out of range (0 to 366)"},
                  {"[9, 8", "kinds.d.reminders: has 9 reminders; at most 8 are allowed"},
                  {"( 3, \"0\" )", "kinds.e.reminders[2]: must be an integer, not a string"});
}

static void
test_escalation_mistakes(void **state)
{
    static const char text[] = MINIMAL
        "kinds = (\n"
        "  { name = \"a\"; title = \"A\"; assigned = true; escalation = (\n"
        "      { after_days = 7; notify = [\"manager\"]; },\n"
        "      { after_days = 7; notify = [\"manager+1\"]; },\n"
        "      { after_days = 3; notify = [\"manager+2\"]; },\n"
        "      { after_days = 0; notify = [\"manager\"]; },\n"
        "      { notify = [] },\n"
        "      { after_days = 30; }\n"
        "  ); },\n"
        "  { name = \"b\"; title = \"B\"; assigned = true; escalation = (\n"
        "      { after_days = 1; notify = [\"boss\", \"manager+3\", \"role:\", \"staff:\"]; },\n"
        "      { after_days = 2; notify = [\"Manager\", \"role:registered manager\", "
        "\"manager+0\"]; },\n"
        "      { after_days = 3; notify = [\"manager\", \"manager\", \"manager\", "
        "\"manager\", \"manager\"]; }\n"
        "  ); }\n"
        ");\n";
    static const char *const not_someone =
        " is not someone to tell (write \"manager\", \"manager+1\", \"manager+2\", "
        "\"role:NAME\" or \"staff:ID\")";
    char boss[256], up3[256], role[256], staff[256], capital[256], spaced[256], up0[256];

    snprintf(boss, sizeof(boss), "kinds.b.escalation[1].notify[1]: \"boss\"%s", not_someone);
    snprintf(up3, sizeof(up3), "kinds.b.escalation[1].notify[2]: \"manager+3\"%s", not_someone);
    snprintf(role, sizeof(role), "kinds.b.escalation[1].notify[3]: \"role:\"%s", not_someone);
    snprintf(staff, sizeof(staff), "kinds.b.escalation[1].notify[4]: \"staff:\"%s", not_someone);
    snprintf(capital, sizeof(capital), "kinds.b.escalation[2].notify[1]: \"Manager\"%s",
             not_someone);
    snprintf(spaced, sizeof(spaced),
             "kinds.b.escalation[2].notify[2]: \"role:registered manager\"%s", not_someone);
    snprintf(up0, sizeof(up0), "kinds.b.escalation[2].notify[3]: \"manager+0\"%s", not_someone);
    EXPECT_ERRORS(
        *state, text,
        {"{ after_days = 7; notify = [\"manager+1\"]",
         "kinds.a.escalation[2].after_days: 7 is not later than the step before (7); each step "
         "must come more days after the due date than the one before"},
        {"{ after_days = 3; notify = [\"manager+2\"]",
         "kinds.a.escalation[3].after_days: 3 is not later than the step before (7); each step "
         "must come more days after the due date than the one before"},
        {"after_days = 0", "kinds.a.escalation[4].after_days: 0 is out of range (1 to 3660)"},
        {"{ notify = []", "kinds.a.escalation[5].after_days: required key is missing"},
        {"{ notify = []", "kinds.a.escalation[5].notify: must name at least one person to tell, "
                          "like [\"manager\"]"},
        {"after_days = 30", "kinds.a.escalation[6].notify: required key is missing"},
        {"\"boss\"", boss}, {"\"boss\"", up3}, {"\"boss\"", role}, {"\"boss\"", staff},
        {"\"Manager\"", capital}, {"\"Manager\"", spaced}, {"\"Manager\"", up0},
        {"{ after_days = 3; notify = [\"manager\", \"manager\"",
         "kinds.b.escalation[3].notify: has 5 entries; at most 4 are allowed"});
}

static void
test_too_many_escalation_steps(void **state)
{
    char text[4096];
    size_t used;

    used = (size_t)snprintf(text, sizeof(text),
                            MINIMAL "kinds = ( { name = \"a\"; title = \"A\"; assigned = true;\n"
                                    "  escalation = (\n");
    for (int i = 1; i <= KIND_MAX_ESCALATIONS + 1; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used,
                                 "    { after_days = %d; notify = [\"manager\"]; }%s\n", i,
                                 i <= KIND_MAX_ESCALATIONS ? "," : "");
    snprintf(text + used, sizeof(text) - used, "  ); } );\n");
    EXPECT_ERRORS(*state, text,
                  {"escalation = (", "kinds.a.escalation: has 9 steps; at most 8 are allowed"});
}

static void
test_how_it_arises_none_or_several(void **state)
{
    static const char text[] =
        MINIMAL "kinds = (\n"
                "  { name = \"a\"; title = \"A\"; reminders = [3]; },\n"
                "  { name = \"b\"; title = \"B\"; assigned = false; },\n"
                "  { name = \"c\"; title = \"C\"; recurring = { every = \"6 weeks\"; }; assigned = "
                "true; },\n"
                "  { name = \"d\"; title = \"D\"; recurring = { every = \"6 weeks\"; };\n"
                "    milestones = { after = \"staff.hired\"; steps = ( { name = \"s\"; title = "
                "\"S\"; at = \"1 week\"; } ); };\n"
                "    assigned = true; }\n"
                ");\n";
    static const char *const none = "needs one of recurring, milestones, assigned = true or "
                                    "training = true, to say how its reviews fall due";
    char a[256], b[256];

    snprintf(a, sizeof(a), "kinds.a: %s", none);
    snprintf(b, sizeof(b), "kinds.b: %s", none);
    EXPECT_ERRORS(*state, text, {"name = \"a\"", a}, {"name = \"b\"", b},
                  {"name = \"c\"", "kinds.c: has recurring and assigned; give only one of "
                                   "recurring, milestones, assigned = true or training = true"},
                  {"name = \"d\"",
                   "kinds.d: has recurring, milestones and assigned; give only one of recurring, "
                   "milestones, assigned = true or training = true"});
}

static void
test_two_training_kinds(void **state)
{
    static const char text[] = MINIMAL "kinds = (\n"
                                       "  { name = \"renewals\"; title = \"Renewals\";\n"
                                       "    training = true; },\n" TRAINING_KIND ");\n" ONE_COURSE;
    char what[256];

    snprintf(what, sizeof(what),
             "kinds.training.training: only one kind may have training = true, and \"renewals\" "
             "on line %d already has it",
             line_of(text, "name = \"renewals\""));
    EXPECT_ERRORS(*state, text, {"name = \"training\"", what});
}

static void
test_courses_without_training_kind(void **state)
{
    EXPECT_ERRORS(*state,
                  MINIMAL "kinds = ( { name = \"a\"; title = \"A\"; assigned = true; } );\n"
                          "\n" ONE_COURSE,
                  {"courses", "courses: no kind has training = true, so nobody would be reminded "
                              "to renew these courses; add a kind with training = true"});
}

static void
test_training_kind_without_courses(void **state)
{
    static const char *const what =
        "kinds.training: training = true needs courses to remind people about; list them in "
        "courses";

    EXPECT_ERRORS(*state, MINIMAL "kinds = (\n" TRAINING_KIND ");\n",
                  {"name = \"training\"", what});
    EXPECT_ERRORS(*state, MINIMAL "kinds = (\n" TRAINING_KIND ");\ncourses = ();\n",
                  {"name = \"training\"", what});
}

static void
test_bad_closures(void **state)
{
    static const char text[] = MINIMAL "schedule = {\n"
                                       "  closures = (\n"
                                       "    \"2026-02-30\",\n"
                                       "    \"25/12/2026\",\n"
                                       "    20261225,\n"
                                       "    \"2026-13-01\",\n"
                                       "    \"1899-12-25\",\n"
                                       "    \"2026-12-25T00:00\",\n"
                                       "    \"2028-02-29\"\n"
                                       "  );\n"
                                       "};\n";

    EXPECT_ERRORS(
        *state, text,
        {"2026-02-30", "schedule.closures[1]: \"2026-02-30\" is not a date (February 2026 has "
                       "28 days)"},
        {"25/12/2026", "schedule.closures[2]: \"25/12/2026\" is not a date (write it as "
                       "YYYY-MM-DD, like \"2026-12-25\")"},
        {"20261225", "schedule.closures[3]: must be a date in quotes, like \"2026-12-25\", not an "
                     "integer"},
        {"2026-13-01", "schedule.closures[4]: \"2026-13-01\" is not a date (months go from 01 to "
                       "12)"},
        {"1899-12-25", "schedule.closures[5]: \"1899-12-25\" is not a date (years go from 1900 to "
                       "9999)"},
        {"T00:00", "schedule.closures[6]: \"2026-12-25T00:00\" is not a date (write it as "
                   "YYYY-MM-DD, like \"2026-12-25\")"});
    EXPECT_ERRORS(*state, MINIMAL "schedule = { closures = 20261225; };\n",
                  {"closures", "schedule.closures: must be a list of dates like [\"2026-12-25\", "
                               "\"2026-12-28\"], not an integer"});
}

static void
test_bad_send_time(void **state)
{
    static const char *const bad[] = {"9am", "24:00", "12:60", "09:5", "009:00", "", " 09:00"};
    char text[256], what[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), MINIMAL "schedule = {\n  send_time = \"%s\";\n};\n", bad[i]);
        if (bad[i][0] == '\0')
            snprintf(what, sizeof(what), "schedule.send_time: must not be empty");
        else
            snprintf(what, sizeof(what),
                     "schedule.send_time: \"%s\" is not a time of day (write HH:MM on the 24-hour "
                     "clock, from \"00:00\" to \"23:59\", like \"09:00\")",
                     bad[i]);
        EXPECT_ERRORS(*state, text, {"send_time", what});
    }
}

static void
test_bad_working_days(void **state)
{
    EXPECT_ERRORS(*state, MINIMAL "schedule = { working_days = []; };\n",
                  {"working_days", "schedule.working_days: must name at least one working day, "
                                   "like [\"Mon\"]"});
    EXPECT_ERRORS(*state,
                  MINIMAL "schedule = {\n  working_days = [\"Mon\", \"Fry\", \"monday\", \"\"];\n"
                          "};\n",
                  {"Fry", "schedule.working_days[2]: \"Fry\" is not a day of the week (write "
                          "Mon, Tue, Wed, Thu, Fri, Sat or Sun)"},
                  {"Fry", "schedule.working_days[3]: \"monday\" is listed twice (Monday)"},
                  {"Fry", "schedule.working_days[4]: must not be empty"});
    EXPECT_ERRORS(*state, MINIMAL "schedule = { working_days = \"Mon-Fri\"; };\n",
                  {"working_days", "schedule.working_days: must be a list like [\"Mon\", \"Tue\", "
                                   "\"Wed\"], not a string"});
}

static void
test_missed_after_days_range(void **state)
{
    EXPECT_ERRORS(*state, MINIMAL "schedule = { missed_after_days = 0; };\n",
                  {"missed", "schedule.missed_after_days: 0 is out of range (1 to 366)"});
    EXPECT_ERRORS(*state, MINIMAL "schedule = { missed_after_days = 367; };\n",
                  {"missed", "schedule.missed_after_days: 367 is out of range (1 to 366)"});
}

static void
test_during_absence(void **state)
{
    static const char text[] = MINIMAL
        "kinds = (\n"
        "  { name = \"a\"; title = \"A\"; assigned = true; during_absence = \"pause\"; },\n"
        "  { name = \"b\"; title = \"B\"; assigned = true; during_absence = \"restart\"; },\n"
        "  { name = \"c\"; title = \"C\"; milestones = { after = \"staff.hired\"; steps = "
        "( { name = \"s\"; title = \"S\"; at = \"1 week\"; } ); };\n"
        "    during_absence = \"restart\"; },\n"
        "  { name = \"d\"; title = \"D\"; recurring = { every = \"1 year\"; }; "
        "during_absence = \"restart\"; }\n"
        ");\n";

    EXPECT_ERRORS(*state, text,
                  {"pause", "kinds.a.during_absence: \"pause\" is not a choice (write "
                            "\"continue\", \"shift\" or \"restart\")"},
                  {"name = \"b\"", "kinds.b.during_absence: \"restart\" is only for kinds with "
                                   "recurring = { ... } (use \"shift\" or \"continue\")"},
                  {"    during_absence = \"restart\"",
                   "kinds.c.during_absence: \"restart\" is only for kinds with recurring = { ... } "
                   "(use \"shift\" or \"continue\")"});
}

static void
test_milestone_mistakes(void **state)
{
    static const char text[] =
        MINIMAL "kinds = (\n"
                "  { name = \"a\"; title = \"A\"; milestones = {\n"
                "      after = \"staff.hired\";\n"
                "      absence_kinds = [\"sickness\"];\n"
                "      steps = ( { name = \"s\"; title = \"S\"; at = \"1 week\"; } ); }; },\n"
                "  { name = \"b\"; title = \"B\"; milestones = {\n"
                "      after = \"staff.joined\";\n"
                "      steps = (); }; },\n"
                "  { name = \"c\"; title = \"C\"; milestones = {\n"
                "      steps = (\n"
                "        { name = \"late\"; title = \"Late\"; at = \"4 weeks\"; },\n"
                "        { name = \"early\"; title = \"Early\"; at = \"1 week\"; },\n"
                "        { name = \"month\"; title = \"Month\"; at = \"1 month\"; },\n"
                "        { name = \"weeks\"; title = \"Weeks\"; at = \"4 weeks\"; },\n"
                "        { name = \"never\"; title = \"Never\"; at = \"-1 days\"; }\n"
                "      ); }; }\n"
                ");\n";

    EXPECT_ERRORS(
        *state, text,
        {"absence_kinds", "kinds.a.milestones.absence_kinds: only a plan with after = "
                          "\"absence.ended\" can list absence kinds"},
        {"staff.joined", "kinds.b.milestones.after: \"staff.joined\" is not an event that starts "
                         "a plan (write \"staff.hired\", \"concern.opened\" or \"absence.ended\")"},
        {"steps = ()", "kinds.b.milestones.steps: must have at least one step"},
        {"name = \"c\"", "kinds.c.milestones.after: required key is missing"},
        {"\"1 week\"; },\n        { name = \"month",
         "kinds.c.milestones.steps.early.at: \"1 week\" is earlier than a step above it (\"4 "
         "weeks\"); list the steps in the order they fall due"},
        {"name = \"weeks\"", "kinds.c.milestones.steps.weeks.at: \"4 weeks\" is earlier than a "
                             "step above it (\"1 month\"); list the steps in the order they fall "
                             "due"},
        {"-1 days", "kinds.c.milestones.steps.never.at: \"-1 days\" is negative (write a length "
                    "of time like \"6 weeks\")"});
}

static void
test_repeat_without_escalation(void **state)
{
    EXPECT_ERRORS(*state,
                  MINIMAL "kinds = ( { name = \"a\"; title = \"A\"; assigned = true;\n"
                          "  repeat_days = 7; } );\n",
                  {"repeat_days", "kinds.a.repeat_days: 7 needs escalation steps to repeat (add "
                                  "escalation, or set repeat_days = 0)"});
    EXPECT_ERRORS(*state,
                  MINIMAL "kinds = ( { name = \"a\"; title = \"A\"; assigned = true;\n"
                          "  escalation = ();\n  repeat_days = 7; } );\n",
                  {"repeat_days", "kinds.a.repeat_days: 7 needs escalation steps to repeat (add "
                                  "escalation, or set repeat_days = 0)"});
    load_valid(*state, MINIMAL "kinds = ( { name = \"a\"; title = \"A\"; assigned = true;\n"
                               "  repeat_days = 0; } );\n");
}

static void
test_ranges_of_kind_numbers(void **state)
{
    EXPECT_ERRORS(*state,
                  MINIMAL
                  "kinds = ( { name = \"a\"; title = \"A\"; assigned = true;\n"
                  "  grace_days = -1;\n"
                  "  repeat_days = 367;\n"
                  "  escalation = ( { after_days = 3661; notify = [\"manager\"]; } ); } );\n",
                  {"grace_days", "kinds.a.grace_days: -1 is out of range (0 to 366)"},
                  {"repeat_days", "kinds.a.repeat_days: 367 is out of range (0 to 366)"},
                  {"3661", "kinds.a.escalation[1].after_days: 3661 is out of range (1 to 3660)"});
}

static void
test_applies_to_lists(void **state)
{
    EXPECT_ERRORS(*state,
                  MINIMAL "kinds = ( { name = \"a\"; title = \"A\"; assigned = true;\n"
                          "  applies_to = { roles = [\"nurse\", \"\"]; teams = \"T1\"; }; } );\n",
                  {"applies_to", "kinds.a.applies_to.roles[2]: must not be empty"},
                  {"applies_to", "kinds.a.applies_to.teams: must be a list of strings like "
                                 "[\"a\", \"b\"], not a string"});
}

static void
test_too_many_kinds(void **state)
{
    char *text = malloc(16384);
    size_t used;

    assert_non_null(text);
    used = (size_t)snprintf(text, 16384, MINIMAL "kinds = (\n");
    for (int i = 0; i <= KINDS_MAX; i++)
        used += (size_t)snprintf(text + used, 16384 - used,
                                 "  { name = \"k%d\"; title = \"K\"; assigned = true; }%s\n", i,
                                 i < KINDS_MAX ? "," : "");
    snprintf(text + used, 16384 - used, ");\n");
    EXPECT_ERRORS(*state, text, {"kinds = (", "kinds: has 65 kinds; at most 64 are allowed"});
    free(text);
}

/* Mistakes in the kinds come with mistakes elsewhere in the file: all are reported. */
static void
test_every_error_reported_with_other_keys(void **state)
{
    EXPECT_ERRORS(*state,
                  MINIMAL "colour = \"red\";\n"
                          "schedule = { send_time = \"9am\"; };\n"
                          "kinds = ( { name = \"a\"; title = \"A\"; assigned = true; reminders = "
                          "[1, 2]; } );\n"
                          "limits = { max_batch_events = 0; };\n",
                  {"colour", "colour: unknown key"},
                  {"9am", "schedule.send_time: \"9am\" is not a time of day (write HH:MM on the "
                          "24-hour clock, from \"00:00\" to \"23:59\", like \"09:00\")"},
                  {"[1, 2]", "kinds.a.reminders[2]: 2 comes after 1; list the days before from "
                             "the most to the fewest, each once, like [14, 3, 0]"},
                  {"max_batch", "limits.max_batch_events: 0 is out of range (1 to 100000)"});
}

static void
test_free_accepts_empty(void **state)
{
    (void)state;
    struct kinds kinds;

    memset(&kinds, 0, sizeof(kinds));
    kinds_free(&kinds);
    kinds_free(&kinds);
    kinds_free(NULL);
}

/* kinds_load() straight on a parsed file, as another caller would use it. */
static void
test_load_directly(void **state)
{
    struct fixture *fixture = *state;
    struct kinds kinds;
    config_t parsed;

    config_init(&parsed);
    assert_int_equal(config_read_string(&parsed, "kinds = ( { name = \"action\"; title = "
                                                 "\"Action\"; assigned = true; } );\n"
                                                 "schedule = { send_time = \"25:00\"; };\n"),
                     CONFIG_TRUE);
    fixture->errors.count = 0;
    assert_int_equal(kinds_load(config_root_setting(&parsed), "x.conf", &kinds, &fixture->errors),
                     -EINVAL);
    assert_int_equal(fixture->errors.count, 1);
    assert_string_equal(fixture->errors.text[0],
                        "x.conf:2: schedule.send_time: \"25:00\" is not a time of day (write "
                        "HH:MM on the 24-hour clock, from \"00:00\" to \"23:59\", like \"09:00\")");
    kinds_free(&kinds);
    config_destroy(&parsed);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_no_sections_gives_default_calendar),
        TEST(test_empty_sections),
        TEST(test_full_file_parses_exactly),
        TEST(test_reference_configuration),
        TEST(test_periods_every_unit),
        TEST(test_format_period),
        TEST(test_steps_in_order_across_units),
        TEST(test_send_time_forms),
        TEST(test_unknown_keys_everywhere),
        TEST(test_wrong_types),
        TEST(test_sections_of_the_wrong_type),
        TEST(test_missing_name_and_title),
        TEST(test_invalid_names),
        TEST(test_name_too_long),
        TEST(test_duplicate_names),
        TEST(test_bad_periods),
        TEST(test_reminders_out_of_order_or_range),
        TEST(test_escalation_mistakes),
        TEST(test_too_many_escalation_steps),
        TEST(test_how_it_arises_none_or_several),
        TEST(test_two_training_kinds),
        TEST(test_courses_without_training_kind),
        TEST(test_training_kind_without_courses),
        TEST(test_bad_closures),
        TEST(test_bad_send_time),
        TEST(test_bad_working_days),
        TEST(test_missed_after_days_range),
        TEST(test_during_absence),
        TEST(test_milestone_mistakes),
        TEST(test_repeat_without_escalation),
        TEST(test_ranges_of_kind_numbers),
        TEST(test_applies_to_lists),
        TEST(test_too_many_kinds),
        TEST(test_every_error_reported_with_other_keys),
        TEST(test_free_accepts_empty),
        TEST(test_load_directly),
    };

    return cmocka_run_group_tests_name("kinds", tests, NULL, NULL);
}
