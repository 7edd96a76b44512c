SELECT pnr FROM bistand ORDER BY belopp * -1, pnr LIMIT 3
-- plan:
project pnr
  order by order#1, pnr LIMIT 3   [oblivious sort]
    project bistand.pnr AS pnr, (bistand.belopp * -1) AS order#1
      scan bistand AS bistand
