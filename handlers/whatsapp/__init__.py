"""The WhatsApp adapter (Cloud API through pywa): webhooks in, messages and templates out."""
