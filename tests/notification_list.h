/*
 * notification_list: the outbox read into an array, for the unit tests that
 * check what was sent (test-obligations, test-kpi).
 */
#ifndef CAREHUB_TESTS_NOTIFICATION_LIST_H
#define CAREHUB_TESTS_NOTIFICATION_LIST_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct notification_list {
    struct notification *items;
    size_t count, capacity;
};

static inline int
collect_notification(void *context, const struct notification *notification)
{
    struct notification_list *list = context;

    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        struct notification *items = realloc(list->items, capacity * sizeof(*items));
        if (items == NULL)
            return -ENOMEM;
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = *notification;
    return 0;
}

/* Every notification after seq, for every recipient (the caller frees list->items). */
static inline void
notifications_after(struct store *store, int64_t after, struct notification_list *list)
{
    memset(list, 0, sizeof(*list));
    assert_int_equal(
        store_notifications_after(store, after, 10000, NULL, collect_notification, list), 0);
}

#endif
