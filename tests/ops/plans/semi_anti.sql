SELECT pnr, belopp FROM bistand WHERE pnr IN (SELECT pnr FROM inkomst WHERE aktiv) AND NOT EXISTS (SELECT 1 FROM bistand_lund l WHERE l.pnr = bistand.pnr AND l.belopp > 100)
-- plan:
project bistand.pnr AS pnr, bistand.belopp AS belopp
  anti join ON bistand.pnr = l.pnr   [oblivious, sort-based]
    semi join ON bistand.pnr = pnr   [oblivious, sort-based]
      scan bistand AS bistand
      project inkomst.pnr AS pnr
        filter inkomst.aktiv   [clears validity bits]
          scan inkomst AS inkomst
    filter (l.belopp > 100)   [clears validity bits]
      scan bistand_lund AS l
