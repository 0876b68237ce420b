/*
 * api_auth: who may ask what, decided for every request from the key that
 * sent it.
 *
 * With CURVE on, libzmq hands each received frame the User-Id the ZAP
 * handler gave its connection: the client's public key in Z85.  The key is
 * looked up in the authorised keys in force at that moment, so a key that a
 * reload removed is refused at its next request, on any connection; the
 * routing id, which the client chooses, is never used.  A reader limited to
 * a team (team= in the authorised-keys file) may only ask about that team
 * and the teams below it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "log.h"
#include "store.h"
#include "wire.h"

/*
 * Logs a refused request, at most API_AUTH_LOG_PER_SECOND a second: a
 * client refused in a loop must not fill the disk; the rest are counted and
 * summed up in the next line logged.
 */
#define API_AUTH_LOG_PER_SECOND 20

static void __attribute__((format(printf, 2, 3)))
log_refusal(struct daemon *daemon, const char *fmt, ...)
{
    uint64_t second = uv_now(daemon->loop) / 1000;
    char text[400];
    va_list args;

    if (second != daemon->auth_log_second) {
        daemon->auth_log_second = second;
        daemon->auth_logged = 0;
    }
    if (daemon->auth_logged >= API_AUTH_LOG_PER_SECOND) {
        daemon->auth_suppressed++;
        return;
    }
    daemon->auth_logged++;
    if (daemon->auth_suppressed > 0) {
        log_warning("refused %lu more requests not logged one by one (over %d a second)",
                    daemon->auth_suppressed, API_AUTH_LOG_PER_SECOND);
        daemon->auth_suppressed = 0;
    }
    va_start(args, fmt);
    vsnprintf(text, sizeof(text), fmt, args);
    va_end(args);
    log_warning("%s", text);
}

/*
 * Whether team_id is limit or a team below it, walking up the parents in
 * the database.  A team not known, a tree deeper than DIR_DEPTH_MAX and a
 * failed look-up all say no: a reader limited to a team is only answered
 * about what is known to be within it.
 */
static bool
team_within(struct daemon *daemon, const char *team_id, const char *limit)
{
    struct dir_team team;
    char current[DIR_ID_SIZE];

    directory_copy_text(current, sizeof(current), team_id);
    for (int depth = 0; depth <= DIR_DEPTH_MAX && current[0] != '\0'; depth++) {
        if (strcmp(current, limit) == 0)
            return true;
        if (store_team_get(daemon->reader, current, &team) < 0)
            return false;
        directory_copy_text(current, sizeof(current), team.parent_id);
    }
    return false;
}

/* Whether staff member staff_id is in limit or a team below it. */
static bool
staff_within(struct daemon *daemon, const char *staff_id, const char *limit)
{
    struct dir_staff staff;

    if (store_staff_get(daemon->reader, staff_id, &staff) < 0)
        return false;
    return team_within(daemon, staff.team_id, limit);
}

/* A string member of request, or NULL when absent or not a string. */
static const char *
member(const cJSON *request, const char *name)
{
    return wire_get_string(request, name);
}

/*
 * Whether a reader limited to team limit may make request (op).  Requests
 * that would otherwise cover the whole organisation are narrowed to the
 * team: the team is added to request.  Sets *why to a sentence when not.
 */
static bool
team_allows(struct daemon *daemon, const char *op, cJSON *request, const char *limit,
            const char **why)
{
    const char *team_id, *staff_id, *manager_id;

    *why = "this key may only ask about its own team and the teams below it";
    if (strcmp(op, "status") == 0 || strcmp(op, "clock") == 0)
        return true;
    if (strcmp(op, "team") == 0)
        return (team_id = member(request, "team_id")) != NULL &&
               team_within(daemon, team_id, limit);
    if (strcmp(op, "staff") == 0 || strcmp(op, "person") == 0)
        return (staff_id = member(request, "staff_id")) != NULL &&
               staff_within(daemon, staff_id, limit);
    if (strcmp(op, "reports") == 0 || strcmp(op, "due") == 0)
        return (manager_id = member(request, "manager_id")) != NULL &&
               staff_within(daemon, manager_id, limit);
    if (strcmp(op, "notifications") == 0) {
        const char *recipient = member(request, "recipient_id");
        if (recipient == NULL)
            *why = "this key is limited to a team: ask for one recipient_id within it";
        return recipient != NULL && staff_within(daemon, recipient, limit);
    }
    if (strcmp(op, "overdue") == 0) {
        team_id = member(request, "team_id");
        manager_id = member(request, "manager_id");
        if (team_id != NULL)
            return team_within(daemon, team_id, limit);
        if (manager_id != NULL)
            return staff_within(daemon, manager_id, limit);
        return cJSON_AddStringToObject(request, "team_id", limit) != NULL;
    }
    if (strcmp(op, "kpi") == 0) {
        team_id = member(request, "team");
        if (team_id != NULL)
            return team_within(daemon, team_id, limit);
        return cJSON_AddStringToObject(request, "team", limit) != NULL;
    }
    return false;
}

bool
api_authorise(struct daemon *daemon, const struct bus_route *route, zmq_msg_t *body, cJSON *request,
              const cJSON *id, const char *op)
{
    const char *user_id;
    const struct auth_key *key;
    bool changes_clock;
    const char *why;
    char message[200];

    if (!daemon->config.curve)
        return true; /* plain operation, for local development: everyone may do everything */
    user_id = zmq_msg_gets(body, "User-Id");
    key = auth_find(daemon->keys, user_id);
    if (key == NULL) {
        log_refusal(daemon,
                    "refused a %.40s request from key %.40s: it is not (or no longer) "
                    "authorised",
                    op, user_id != NULL ? user_id : "(none)");
        api_send_error(daemon, route, id, WIRE_E_UNAUTHORISED,
                       "this key is not (or no longer) authorised");
        return false;
    }
    changes_clock = strcmp(op, "clock") == 0 &&
                    (cJSON_GetObjectItemCaseSensitive(request, "set") != NULL ||
                     cJSON_GetObjectItemCaseSensitive(request, "advance_seconds") != NULL);
    if (!auth_allows(key->role, op, changes_clock)) {
        snprintf(message, sizeof(message), "a %s key may not use the %.40s op%s",
                 auth_role_name(key->role), op, changes_clock ? " to set the clock" : "");
        log_refusal(daemon, "refused a %.40s request from %s (%s): %s", op, key->name,
                    auth_role_name(key->role), message);
        api_send_error(daemon, route, id, WIRE_E_FORBIDDEN, message);
        return false;
    }
    if (key->role == AUTH_READER && key->team_id[0] != '\0' &&
        !team_allows(daemon, op, request, key->team_id, &why)) {
        snprintf(message, sizeof(message), "%s (%.80s)", why, key->team_id);
        log_refusal(daemon, "refused a %.40s request from %s (reader, team %s): outside the team",
                    op, key->name, key->team_id);
        api_send_error(daemon, route, id, WIRE_E_FORBIDDEN, message);
        return false;
    }
    return true;
}
