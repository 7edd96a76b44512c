SELECT pnr, kommun FROM bistand WHERE kommun LIKE 'Malm%' AND kommun NOT LIKE '%2'
-- plan:
project bistand.pnr AS pnr, bistand.kommun AS kommun
  filter (bistand.kommun LIKE 'Malm%' AND bistand.kommun NOT LIKE '%2')   [clears validity bits]
    scan bistand AS bistand
