/*
 * api: the request/reply protocol of the API socket (docs/protocol.md).
 *
 * Each request is checked (frames, size, UTF-8, JSON, envelope) before it is
 * dispatched by its "op"; every failure gets an error reply with a stable
 * code, and nothing a client sends can stop the daemon.  Queries run on the
 * reader connection; publish requests go through ingest and are answered
 * from api_publish_done() once committed.
 */
#ifndef CAREHUB_API_H
#define CAREHUB_API_H

#include "bus.h"
#include "daemon.h"
#include "ingest.h"

/* The bus callback of the API socket; bus->data is the struct daemon. */
void api_on_message(struct bus *bus, struct bus_message *message);

/* The ingest callback: replies to a committed (or failed) publish request and frees it. */
void api_publish_done(void *data, struct ingest_request *request);

#endif
