SELECT kommun, COUNT(*) AS n, SUM(belopp) AS s, MIN(manad) AS forst, AVG(belopp) AS a FROM bistand GROUP BY kommun ORDER BY kommun
-- plan:
order by kommun   [oblivious sort]
  project bistand.kommun AS kommun, count#1 AS n, sum#2 AS s, min#3 AS forst, sum#4 / count#5 (divided by the recipient) AS a
    aggregate COUNT(*) AS count#1, SUM(bistand.belopp) AS sum#2, MIN(bistand.manad) AS min#3, SUM(bistand.belopp) AS sum#4, COUNT(bistand.belopp) AS count#5 GROUP BY bistand.kommun   [sort + segmented scans]
      scan bistand AS bistand
