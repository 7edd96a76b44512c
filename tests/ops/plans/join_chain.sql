SELECT b.pnr, i.inkomst, s.dagar FROM bistand b JOIN inkomst i ON b.pnr = i.pnr JOIN sjuk s ON s.pnr = b.pnr AND s.manad = b.manad WHERE s.dagar > 3 OR i.aktiv
-- plan:
project b.pnr AS pnr, i.inkomst AS inkomst, s.dagar AS dagar
  filter ((s.dagar > 3) OR i.aktiv)   [clears validity bits]
    inner join ON b.pnr = s.pnr AND b.manad = s.manad   [oblivious sort-based PK–FK join]
      inner join ON b.pnr = i.pnr   [oblivious sort-based PK–FK join]
        scan bistand AS b
        scan inkomst AS i
      scan sjuk AS s
