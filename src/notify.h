/* notify.h -- systemd's sd_notify protocol (a datagram to $NOTIFY_SOCKET),
 * implemented locally so sluiced does not link libsystemd. */
#ifndef SLUICE_NOTIFY_H
#define SLUICE_NOTIFY_H

/* Sends state (e.g. "READY=1") if NOTIFY_SOCKET is set. Returns 1 when
 * sent, 0 when there is no socket, negative errno on failure. */
int sd_notify_send(const char *state);
/* The watchdog interval systemd asks for (WATCHDOG_USEC, for this pid), in
 * milliseconds, or 0. */
unsigned long long sd_watchdog_ms(void);

#endif
