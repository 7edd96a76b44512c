WITH per AS (SELECT pnr, SUM(belopp) AS s FROM bistand GROUP BY pnr) SELECT a.pnr, a.s, b.s AS s2 FROM per a JOIN per b ON a.pnr = b.pnr
-- plan:
project a.pnr AS pnr, a.s AS s, b.s AS s2
  inner join ON a.pnr = b.pnr   [oblivious sort-based PK–FK join]
    project pnr AS a.pnr, s AS a.s
      project bistand.pnr AS pnr, sum#1 AS s
        aggregate SUM(bistand.belopp) AS sum#1 GROUP BY bistand.pnr   [sort + segmented scans]
          scan bistand AS bistand
    project pnr AS b.pnr, s AS b.s
      (the result of line 4, computed once)
