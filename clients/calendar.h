/*
 * calendar: a manager's upcoming reviews as an iCalendar file (RFC 5545),
 * generated with libical, for carehubctl calendar and carehub-notify's
 * digest attachment.
 *
 * Input is the daemon's own description of obligations (the "obligations"
 * arrays of the due and overdue ops, docs/protocol.md), so the calendar says
 * exactly what the daemon says.  Each obligation becomes:
 *   - a VEVENT, an all-day event on the booked date, when it is booked;
 *   - a VTODO, due on its due date, when it is not booked (overdue ones too:
 *     calendar programs show them as late).
 * Every component carries a UID that stays the same for the same obligation
 * ("carehub-obligation-<obligation_id>@<uid_domain>"), so importing a newer
 * file updates entries instead of doubling them; a SUMMARY such as
 * "Supervision: Marek Nowak"; a DESCRIPTION saying what to do, in plain
 * English; the policy link as URL when there is one; and DTSTAMP = now.
 * An event is marked free (TRANSP:TRANSPARENT): it says which day, and the
 * manager books the hour in their own diary.  A to-do has STATUS:NEEDS-ACTION.
 * The calendar is named (X-WR-CALNAME) "Reviews to arrange: <manager>".
 *
 * Names and titles come from HR systems: control characters in them become
 * spaces, and bytes that are not UTF-8 become '?', so that the file stays
 * valid whatever they hold.  An empty list gives a valid calendar with no
 * components.
 *
 * Nothing here logs; errors are negative errno codes with a sentence in err.
 */
#ifndef CAREHUB_CALENDAR_H
#define CAREHUB_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/*
 * Builds the calendar of obligations (borrowed: an array of obligation
 * objects, as the due and overdue ops list them, with "name"), for the
 * manager manager_name (borrowed; used in the calendar's X-WR-CALNAME, may be
 * NULL), stamped now_ms (Unix milliseconds, UTC, not negative; DTSTAMP keeps
 * whole seconds).  uid_domain (borrowed; not empty, no spaces or control
 * characters) ends every UID.
 *
 * Of each element it reads obligation_id (a whole number from 1), staff_id,
 * what, due and booked (YYYY-MM-DD; booked may be null or absent); name
 * (the staff_id stands in when it is absent), state, days_overdue (present:
 * the description says it is overdue) and policy (a link) are optional.
 * Obligations whose state is not "open" are left out (an element without a
 * state is taken as open); an obligation listed twice appears once, as its
 * first copy; the others keep the order of the array.
 *
 * On success *out is a new NUL-terminated text with CRLF line ends (the
 * caller's, to free()) and *count how many components it holds.  Returns 0;
 * -EINVAL when obligations is not an array, an element is not an object or
 * lacks a field the calendar needs (obligation_id, staff_id, what, due), its
 * state is not a string, a date is malformed (or booked is 9999-12-31, whose
 * event would end in year 10000), or an argument is out of range, with a
 * sentence in err (err may be NULL); -ENOMEM.  On failure *out is NULL and
 * *count 0.
 */
int calendar_build(const cJSON *obligations, const char *manager_name, int64_t now_ms,
                   const char *uid_domain, char **out, int *count, char *err, size_t err_size);

#endif
