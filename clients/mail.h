/*
 * mail: sending one email through an SMTP relay with libcurl.
 *
 * A relay handle keeps one libcurl easy handle, so the connection to the
 * relay is reused from one message to the next.  Each message is built with
 * libcurl's MIME API: multipart/alternative with a text/plain and a
 * text/html part (UTF-8, quoted-printable), inside multipart/mixed when an
 * attachment (a text/calendar file, say) goes with it.  Headers: From, To,
 * Subject (RFC 2047 encoded when not ASCII), Date, Message-ID, MIME-Version,
 * Auto-Submitted: auto-generated.
 *
 * Failures are sorted into what a caller does next:
 *   -EAGAIN     try again later: the relay could not be reached, timed out,
 *               dropped the connection, or answered 4xx;
 *   -EPERM      the relay refused this recipient for good (5xx to RCPT TO):
 *               retrying will not help, the address is wrong;
 *   -EBADMSG    the relay refused this message for good (5xx to DATA or to
 *               the message's content): sending it again will not help;
 *   -EIO        a configuration fault: TLS or authentication failed, or the
 *               relay refused the sender or the session (another 5xx);
 *               fixing the settings or the relay helps, so try again later;
 *   -EINVAL     the message itself is malformed (an address with CR or LF,
 *               a missing field);
 *   -ENOMEM.
 * Each comes with a sentence in err that names the relay (its scheme, host
 * and port, never credentials) and quotes its last reply line when there was
 * one.  Nothing here logs: libcurl's verbose output is captured, only to find
 * the relay's replies, and never printed.
 *
 * libcurl's global state is initialised by the first mail_relay_open() of
 * the process, which is not thread-safe: the module is meant for one thread
 * (carehub-notify is single-threaded).  Nothing here calls
 * curl_global_cleanup(): a program may call it after closing its last relay
 * (mail-send does; with Debian's libcurl and OpenSSL, LeakSanitizer reports
 * nothing either way).
 */
#ifndef CAREHUB_MAIL_H
#define CAREHUB_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mail_tls {
    MAIL_TLS_NONE = 0, /* plain SMTP (local relays on loopback only) */
    MAIL_TLS_STARTTLS, /* smtp:// upgraded with STARTTLS, which must succeed */
    MAIL_TLS_IMPLICIT, /* smtps:// (TLS from the first byte, port 465) */
};

struct mail_relay_options {
    const char *url; /* "smtp://host:port" or "smtps://host:port"; borrowed */
    enum mail_tls tls;
    const char *username;  /* NULL: no authentication */
    const char *password;  /* with username */
    const char *ca_file;   /* NULL: the system's certificate authorities */
    bool verify_peer;      /* check the relay's certificate and name (default true) */
    long timeout_ms;       /* for connecting and for each whole message; <= 0: 30 s */
    const char *helo_name; /* NULL: libcurl's default (this host's name) */
};

struct mail_message {
    /* Addresses are plain ASCII local@domain, without quoting or comments. */
    const char *from;            /* address only: "carehub@example.org" */
    const char *from_name;       /* NULL or a display name */
    const char *to;              /* address only */
    const char *to_name;         /* NULL or a display name */
    const char *subject;         /* one line, UTF-8, at most 998 bytes */
    const char *text;            /* the plain-text part, UTF-8; lines end LF or CRLF */
    const char *html;            /* the HTML part, UTF-8; NULL: text only */
    const char *message_id;      /* "<...@...>", the same for every retry of one message */
    int64_t date_ms;             /* the Date header, Unix milliseconds */
    const char *attachment_name; /* NULL: none */
    const char *attachment_type; /* "text/calendar; charset=UTF-8; method=PUBLISH" */
    const char *attachment;      /* its bytes */
    size_t attachment_len;
};

struct mail_relay;

/*
 * Prepares a relay handle (no connection is made yet) into *out, the
 * caller's to mail_relay_close().  options are copied.  Returns 0, -EINVAL
 * for a URL libcurl cannot use, a scheme that does not match tls (smtps://
 * goes with MAIL_TLS_IMPLICIT and only with it), a username without a
 * password or a HELO name that is not a host name (err says why), or
 * -ENOMEM.
 */
int mail_relay_open(struct mail_relay **out, const struct mail_relay_options *options, char *err,
                    size_t err_size);

/* Closes the connection, if any (saying QUIT), and frees the handle; NULL
 * is fine. */
void mail_relay_close(struct mail_relay *relay);

/*
 * Sends one message and returns once the relay has accepted it (its 250
 * after the message data) or refused it, reusing the relay's connection when
 * it is still open.  A kept connection that turns out to have been dropped
 * by the relay before it answered anything is replaced once, at once, since
 * the message cannot have been accepted on it.  Returns 0 when accepted, or one of the codes above
 * with a sentence in err.  The message is checked before anything is sent: -EINVAL when an address
 * is missing or is not local@domain, when any header value (address, name, subject, Message-ID,
 * attachment name or type) contains CR or LF, when a name or the subject is not UTF-8, or when the
 * Message-ID is not "<left@right>".  message and what it points to are
 * borrowed for the call only.
 */
int mail_send(struct mail_relay *relay, const struct mail_message *message, char *err,
              size_t err_size);

#endif
