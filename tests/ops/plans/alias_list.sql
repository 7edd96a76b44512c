SELECT s.b FROM (SELECT belopp, belopp * 2 FROM bistand) AS s (b2, b) WHERE s.b2 > 0
-- plan:
project s.b AS b
  filter (s.b2 > 0)   [clears validity bits]
    project b2 AS s.b2, b AS s.b
      project belopp AS b2, belopp * 2 AS b
        project bistand.belopp AS belopp, (bistand.belopp * 2) AS belopp * 2
          scan bistand AS bistand
