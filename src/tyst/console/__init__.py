"""Each body's own web console (``tyst console``): plans, approvals, uploads, jobs,
results and the audit trail, served on the body's machine with its keys.

The coordinator is untrusted, so the pages a body acts on are rendered here, from
plans, logs and results this process fetched and verified itself through the same
client as the CLI (:mod:`tyst.client`)."""
