/*
 * dircache: a small direct-mapped cache of directory records in front of a
 * directory_source.
 *
 * Checking a change to the management chain walks from a person up to the
 * top, reading the same few managers and teams for every event.  The writer
 * keeps them here instead of asking SQLite each time.  The owner tells the
 * cache about every record it writes (put, or forget when it wrote only part
 * of one) and clears it when a transaction rolls back, so the cache never
 * answers with anything the database would not.  One thread at a time.
 */
#ifndef CAREHUB_DIRCACHE_H
#define CAREHUB_DIRCACHE_H

#include <stddef.h>

#include "directory.h"

struct dircache;

/*
 * Creates a cache with room for staff_slots staff and team_slots teams (each
 * rounded up to a power of two) reading through base, which must outlive it.
 * Returns 0 or -ENOMEM.
 */
int dircache_new(struct dircache **out, const struct directory_source *base, size_t staff_slots,
                 size_t team_slots);

/* Frees the cache; accepts NULL. */
void dircache_free(struct dircache *cache);

/* A source that answers from the cache, filling it from base on a miss. */
void dircache_source(struct dircache *cache, struct directory_source *out);

/* Records what was just written. */
void dircache_put_staff(struct dircache *cache, const struct dir_staff *staff);
void dircache_put_team(struct dircache *cache, const struct dir_team *team);

/* Drops a staff record that was changed in the database without the whole record at hand. */
void dircache_forget_staff(struct dircache *cache, const char *staff_id);

/* Drops everything (after a rollback). */
void dircache_clear(struct dircache *cache);

/* Look-ups answered from the cache, and those passed to base. */
void dircache_counts(const struct dircache *cache, unsigned long *hits, unsigned long *misses);

#endif
