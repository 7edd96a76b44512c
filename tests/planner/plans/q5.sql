select n_name, sum(l_extendedprice * (1 - l_discount)) as revenue
from customer, orders, lineitem, supplier, nation, region
where c_custkey = o_custkey and l_orderkey = o_orderkey and l_suppkey = s_suppkey
  and c_nationkey = s_nationkey and s_nationkey = n_nationkey and n_regionkey = r_regionkey
  and r_name = 'ASIA' and o_orderdate >= date '1994-01-01'
  and o_orderdate < date '1994-01-01' + interval '1' year
group by n_name
order by revenue desc
-- plan:
1. scan: scan customer AS customer   lanes customer.c_nationkey key, customer.c_custkey key
2. scan: scan orders AS orders   lanes orders.o_orderdate key, orders.o_orderkey key, orders.o_custkey key
3. join(1, 2): inner join ON customer.c_custkey = orders.o_custkey   [oblivious sort-based PK–FK join]   pk left: left side unique on the join key
4. scan: scan lineitem AS lineitem   lanes lineitem.l_extendedprice key, lineitem.l_discount key, lineitem.l_suppkey key, lineitem.l_orderkey key
5. join(3, 4): inner join ON orders.o_orderkey = lineitem.l_orderkey   [oblivious sort-based PK–FK join]   pk left: left side unique on the join key
6. scan: scan supplier AS supplier   lanes supplier.s_nationkey key, supplier.s_suppkey key
7. join(5, 6): inner join ON lineitem.l_suppkey = supplier.s_suppkey AND customer.c_nationkey = supplier.s_nationkey   [oblivious sort-based PK–FK join]   pk right: right side unique on the join key
8. scan: scan nation AS nation   lanes nation.n_name content, nation.n_regionkey key, nation.n_nationkey key
9. join(7, 8): inner join ON supplier.s_nationkey = nation.n_nationkey   [oblivious sort-based PK–FK join]   pk right: right side unique on the join key
10. scan: scan region AS region   lanes region.r_name key, region.r_regionkey key
11. join(9, 10): inner join ON nation.n_regionkey = region.r_regionkey   [oblivious sort-based PK–FK join]   pk right: right side unique on the join key
12. filter(11): filter ((region.r_name = 'ASIA') AND (orders.o_orderdate >= 1994-01-01) AND (orders.o_orderdate < 1995-01-01))   [clears validity bits]
13. project(12): project nation.n_name, (lineitem.l_extendedprice * (1 - lineitem.l_discount)) AS arg#1
14. aggregate(13): aggregate SUM(arg#1) AS sum#2 GROUP BY nation.n_name   [sort + segmented scans]
15. project(14): project nation.n_name AS n_name, sum#2 AS revenue
16. order by … limit(15): order by revenue DESC   [oblivious sort]
