select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue, o_orderdate,
  o_shippriority
from customer, orders, lineitem
where c_mktsegment = 'BUILDING' and c_custkey = o_custkey and l_orderkey = o_orderkey
  and o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15'
group by l_orderkey, o_orderdate, o_shippriority
order by revenue desc, o_orderdate
limit 10
-- plan:
1. scan: scan customer AS customer   lanes customer.c_mktsegment key, customer.c_custkey key
2. scan: scan orders AS orders   lanes orders.o_orderdate content, orders.o_shippriority content, orders.o_orderkey key, orders.o_custkey key
3. join(1, 2): inner join ON customer.c_custkey = orders.o_custkey   [oblivious sort-based PK–FK join]   pk left: left side unique on the join key
4. scan: scan lineitem AS lineitem   lanes lineitem.l_orderkey content, lineitem.l_extendedprice key, lineitem.l_discount key, lineitem.l_shipdate key
5. join(3, 4): inner join ON orders.o_orderkey = lineitem.l_orderkey   [oblivious sort-based PK–FK join]   pk left: left side unique on the join key
6. filter(5): filter ((customer.c_mktsegment = 'BUILDING') AND (orders.o_orderdate < 1995-03-15) AND (lineitem.l_shipdate > 1995-03-15))   [clears validity bits]
7. project(6): project lineitem.l_orderkey, orders.o_orderdate, orders.o_shippriority, (lineitem.l_extendedprice * (1 - lineitem.l_discount)) AS arg#1
8. aggregate(7): aggregate SUM(arg#1) AS sum#2 GROUP BY lineitem.l_orderkey, orders.o_orderdate, orders.o_shippriority   [sort + segmented scans]
9. project(8): project lineitem.l_orderkey AS l_orderkey, sum#2 AS revenue, orders.o_orderdate AS o_orderdate, orders.o_shippriority AS o_shippriority
10. order by … limit(9): order by revenue DESC, o_orderdate LIMIT 10   [oblivious sort]
