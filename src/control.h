/* control.h -- queue pause/resume and remote cancel (see control.c). */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

struct sluiced;

void control_start(struct sluiced *d);
void control_on_notify(struct sluiced *d, const char *payload);
void control_stop(struct sluiced *d);
void control_free(struct sluiced *d);

#endif
