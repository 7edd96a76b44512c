SELECT l_orderkey, SUM(l_price) AS revenue, o_date FROM customer, orders, lineitem WHERE c_segment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey AND o_date < DATE '1995-03-15' + INTERVAL '1' MONTH GROUP BY l_orderkey, o_date ORDER BY revenue DESC, o_date LIMIT 10
-- plan:
order by revenue DESC, o_date LIMIT 10   [oblivious sort]
  project lineitem.l_orderkey AS l_orderkey, sum#1 AS revenue, orders.o_date AS o_date
    aggregate SUM(lineitem.l_price) AS sum#1 GROUP BY lineitem.l_orderkey, orders.o_date   [sort + segmented scans]
      filter ((customer.c_segment = 'BUILDING') AND (orders.o_date < 1995-04-15))   [clears validity bits]
        inner join ON orders.o_orderkey = lineitem.l_orderkey   [oblivious sort-based PK–FK join]
          inner join ON customer.c_custkey = orders.o_custkey   [oblivious sort-based PK–FK join]
            scan customer AS customer
            scan orders AS orders
          scan lineitem AS lineitem
