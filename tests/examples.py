"""Texts shared by several test modules."""

# The example of issue 3, verbatim.
ISSUE_PLAN = '''\
[analysis]
title = "Samtidig sjukpenning och ekonomiskt bistånd"
purpose = "Efterhandskontroll"
legal_basis = "Bidragsbrottslagen (2007:612)"
retention_days = 30            # encrypted data may exist at most this long

[parties.fk]                   # a party may own tables, receive results, or both
name = "Försäkringskassan"
[parties.malmo]
name = "Malmö stad"

[tables.sjukpenning]
owner = "fk"
columns = { pnr = "id", fom = "date", tom = "date", belopp = "decimal(2)" }
[tables.bistand]
owner = "malmo"
columns = { pnr = "id", manad = "date", belopp = "int" }

[query]
sql = """SELECT s.pnr FROM sjukpenning s JOIN bistand b ON s.pnr = b.pnr
         WHERE b.manad BETWEEN s.fom AND s.tom"""

[output]
recipients = ["fk"]
min_group_size = 5             # optional, default 0: GROUP BY results with fewer contributing rows are suppressed
'''  # noqa: E501
