"""DLP core (pure): profiles, the streaming Hyperscan matcher, text extraction.

Modules: ``validators`` (checksums, placeholders), ``profiles`` (entries, predefined and custom
profiles, versions), ``masking``, ``matcher`` (``compile_policy`` -> ``Policy``), ``extract``
(``extract_text``). See docs/dlp.md. Nothing is imported here so that importing the package
costs nothing.
"""
