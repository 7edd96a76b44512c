SELECT kommun, SUM(belopp) AS s FROM (SELECT kommun, belopp FROM bistand UNION ALL SELECT kommun, belopp FROM bistand_lund) AS u GROUP BY kommun
-- plan:
project u.kommun AS kommun, sum#1 AS s
  aggregate SUM(u.belopp) AS sum#1 GROUP BY u.kommun   [sort + segmented scans]
    project kommun AS u.kommun, belopp AS u.belopp
      union all   [concatenation]
        project bistand.kommun AS kommun, bistand.belopp AS belopp
          scan bistand AS bistand
        project bistand_lund.kommun AS kommun, bistand_lund.belopp AS belopp
          scan bistand_lund AS bistand_lund
