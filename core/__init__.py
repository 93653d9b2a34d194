"""The base every layer may import: settings, errors, time helpers, log context, scrubbing."""
