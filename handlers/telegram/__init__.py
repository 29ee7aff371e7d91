"""The Telegram channel: PTB updates in, rendered outcomes out. No workflow rule lives here."""
