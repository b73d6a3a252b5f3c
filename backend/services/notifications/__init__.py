"""Notifications: telling people what happened and what is due.

``notices`` (a fact's transaction writes its notices through its ChangeSet; ``standalone`` writes
a scheduled job's in a transaction of their own), ``kinds`` (the one
list of notification kinds: who may mute them, which channels they go to, their templates),
``inbox`` (the in-app inbox: list, render, mark read, the NOTIFICATIONS_READ record kind),
``preferences`` (per person: muted kinds per channel, quiet hours), ``channel_settings`` (per
company: which channels, with what settings), ``channels/`` (the outbound channels behind one
interface), ``outbox`` (the worker's side: fan-out to channels, claim, send, retry, dead letters)
and ``scheduler`` (scheduled jobs run once per period by whichever worker claims them).
"""
