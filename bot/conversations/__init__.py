"""The conversations: every dialog and command, channel-neutral (events in, output out).

Nothing here imports a channel library; `handlers/<channel>/` translates each channel's
updates into `events` and renders `output` with what that channel can do.
"""
