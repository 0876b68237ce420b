#include "dircache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct staff_slot {
    bool valid;
    struct dir_staff record;
};

struct team_slot {
    bool valid;
    struct dir_team record;
};

struct dircache {
    const struct directory_source *base;
    struct staff_slot *staff;
    struct team_slot *teams;
    size_t staff_mask, team_mask;
    unsigned long hits, misses;
};

/* FNV-1a: ids are short and this runs once per look-up. */
static size_t
slot_of(const char *id, size_t mask)
{
    uint64_t hash = 0xcbf29ce484222325ULL;

    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        hash = (hash ^ *p) * 0x100000001b3ULL;
    return (size_t)(hash ^ (hash >> 29)) & mask;
}

static size_t
power_of_two(size_t n)
{
    size_t size = 1;

    while (size < n)
        size *= 2;
    return size;
}

int
dircache_new(struct dircache **out, const struct directory_source *base, size_t staff_slots,
             size_t team_slots)
{
    struct dircache *cache = calloc(1, sizeof(*cache));
    size_t staff_size = power_of_two(staff_slots), team_size = power_of_two(team_slots);

    *out = NULL;
    if (cache == NULL)
        return -ENOMEM;
    cache->base = base;
    cache->staff = calloc(staff_size, sizeof(*cache->staff));
    cache->teams = calloc(team_size, sizeof(*cache->teams));
    if (cache->staff == NULL || cache->teams == NULL) {
        dircache_free(cache);
        return -ENOMEM;
    }
    cache->staff_mask = staff_size - 1;
    cache->team_mask = team_size - 1;
    *out = cache;
    return 0;
}

void
dircache_free(struct dircache *cache)
{
    if (cache == NULL)
        return;
    free(cache->staff);
    free(cache->teams);
    free(cache);
}

static int
cached_staff(void *context, const char *staff_id, struct dir_staff *out)
{
    struct dircache *cache = context;
    struct staff_slot *slot = &cache->staff[slot_of(staff_id, cache->staff_mask)];
    int r;

    if (slot->valid && strcmp(slot->record.staff_id, staff_id) == 0) {
        cache->hits++;
        *out = slot->record;
        return 0;
    }
    cache->misses++;
    r = cache->base->get_staff(cache->base->context, staff_id, out);
    if (r == 0) {
        slot->record = *out;
        slot->valid = true;
    }
    return r;
}

static int
cached_team(void *context, const char *team_id, struct dir_team *out)
{
    struct dircache *cache = context;
    struct team_slot *slot = &cache->teams[slot_of(team_id, cache->team_mask)];
    int r;

    if (slot->valid && strcmp(slot->record.team_id, team_id) == 0) {
        cache->hits++;
        *out = slot->record;
        return 0;
    }
    cache->misses++;
    r = cache->base->get_team(cache->base->context, team_id, out);
    if (r == 0) {
        slot->record = *out;
        slot->valid = true;
    }
    return r;
}

void
dircache_source(struct dircache *cache, struct directory_source *out)
{
    out->context = cache;
    out->get_staff = cached_staff;
    out->get_team = cached_team;
}

void
dircache_put_staff(struct dircache *cache, const struct dir_staff *staff)
{
    struct staff_slot *slot = &cache->staff[slot_of(staff->staff_id, cache->staff_mask)];

    slot->record = *staff;
    slot->valid = true;
}

void
dircache_put_team(struct dircache *cache, const struct dir_team *team)
{
    struct team_slot *slot = &cache->teams[slot_of(team->team_id, cache->team_mask)];

    slot->record = *team;
    slot->valid = true;
}

void
dircache_forget_staff(struct dircache *cache, const char *staff_id)
{
    struct staff_slot *slot = &cache->staff[slot_of(staff_id, cache->staff_mask)];

    if (slot->valid && strcmp(slot->record.staff_id, staff_id) == 0)
        slot->valid = false;
}

void
dircache_clear(struct dircache *cache)
{
    for (size_t i = 0; i <= cache->staff_mask; i++)
        cache->staff[i].valid = false;
    for (size_t i = 0; i <= cache->team_mask; i++)
        cache->teams[i].valid = false;
}

void
dircache_counts(const struct dircache *cache, unsigned long *hits, unsigned long *misses)
{
    *hits = cache->hits;
    *misses = cache->misses;
}
