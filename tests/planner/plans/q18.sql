select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity)
from customer, orders, lineitem
where o_orderkey in (select l_orderkey from lineitem group by l_orderkey
                     having sum(l_quantity) > 300)
  and c_custkey = o_custkey and o_orderkey = l_orderkey
group by c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
order by o_totalprice desc, o_orderdate
limit 100
-- plan:
1. scan: scan customer AS customer   lanes customer.c_name content, customer.c_custkey content
2. scan: scan orders AS orders   lanes orders.o_orderkey content, orders.o_orderdate content, orders.o_totalprice content, orders.o_custkey key
3. join(1, 2): inner join ON customer.c_custkey = orders.o_custkey   [oblivious sort-based PK–FK join]   pk left: left side unique on the join key
4. scan: scan lineitem AS lineitem   lanes lineitem.l_quantity key, lineitem.l_orderkey key
5. join(3, 4): inner join ON orders.o_orderkey = lineitem.l_orderkey   [oblivious sort-based PK–FK join]   pk left: left side unique on the join key
6. scan: scan lineitem AS lineitem   lanes lineitem.l_quantity key, lineitem.l_orderkey key
7. aggregate(6): aggregate SUM(lineitem.l_quantity) AS sum#1 GROUP BY lineitem.l_orderkey   [sort + segmented scans]
8. filter(7): filter (sum#1 > 300)   [clears validity bits]
9. project(8): project lineitem.l_orderkey AS l_orderkey
10. semi / anti join(5, 9): semi join ON orders.o_orderkey = l_orderkey   [oblivious, sort-based]
11. aggregate(10): aggregate SUM(lineitem.l_quantity) AS sum#2 GROUP BY customer.c_name, customer.c_custkey, orders.o_orderkey, orders.o_orderdate, orders.o_totalprice   [sort + segmented scans]
12. project(11): project customer.c_name AS c_name, customer.c_custkey AS c_custkey, orders.o_orderkey AS o_orderkey, orders.o_orderdate AS o_orderdate, orders.o_totalprice AS o_totalprice, sum#2 AS SUM(l_quantity)
13. order by … limit(12): order by o_totalprice DESC, o_orderdate LIMIT 100   [oblivious sort]
