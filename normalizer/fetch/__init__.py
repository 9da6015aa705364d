"""The thin fetcher: collects raw records from Microsoft 365 and feeds them to the rules engine.

``o365norm fetch --config FILE`` reads a LogMan.io-style YAML configuration (a connection,
an audit input, a message-trace input, outputs), pulls the Office 365 Management Activity
API and Exchange message trace (Microsoft Graph ``messageTraces`` or the legacy Reporting
Web Service), and writes NDJSON, normalized or raw.

One concept per module:

* ``config``      the YAML configuration, validated, with errors naming section and key
* ``clouds``      per-cloud defaults (authority, API hosts, token resources)
* ``auth``        OAuth2 client credentials through MSAL, one token per resource, renewed early
* ``http``        one ``requests`` session: CA bundle, proxies, retries; API calls with throttling
* ``jsonspans``   the exact text of each element of a JSON array (for raw output)
* ``seen``        record keys and the bounded window of keys already emitted
* ``checkpoint``  per input and stream progress, written atomically
* ``outputs``     stdout / file, normalized or raw, with crash repair of the file
* ``audit``       the Management Activity API source
* ``messagetrace`` the message-trace source (Graph and legacy)
* ``report``      progress and counts on stderr
* ``runner``      scheduling, ``--once``, clean shutdown on SIGINT/SIGTERM
"""
