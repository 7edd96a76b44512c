select c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) as revenue,
  c_acctbal, n_name, c_address, c_phone, c_comment
from nation, customer, lineitem, orders
where c_custkey = o_custkey and l_orderkey = o_orderkey and o_orderdate >= date '1993-10-01'
  and o_orderdate < date '1993-10-01' + interval '3' month and l_returnflag = 'R'
  and c_nationkey = n_nationkey
group by c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
order by revenue desc
limit 20
-- plan:
1. scan: scan nation AS nation   lanes nation.n_name content, nation.n_nationkey key
2. scan: scan customer AS customer   lanes customer.c_custkey content, customer.c_name content, customer.c_acctbal content, customer.c_phone content, customer.c_address content, customer.c_comment content, customer.c_nationkey key
3. join(1, 2): inner join ON nation.n_nationkey = customer.c_nationkey   [oblivious sort-based PK–FK join]   pk left: left side unique on the join key
4. scan: scan orders AS orders   lanes orders.o_orderdate key, orders.o_orderkey key, orders.o_custkey key
5. join(3, 4): inner join ON customer.c_custkey = orders.o_custkey   [oblivious sort-based PK–FK join]   pk left: left side unique on the join key
6. scan: scan lineitem AS lineitem   lanes lineitem.l_extendedprice key, lineitem.l_discount key, lineitem.l_returnflag key, lineitem.l_orderkey key
7. join(5, 6): inner join ON orders.o_orderkey = lineitem.l_orderkey   [oblivious sort-based PK–FK join]   pk left: left side unique on the join key
8. filter(7): filter ((orders.o_orderdate >= 1993-10-01) AND (orders.o_orderdate < 1994-01-01) AND (lineitem.l_returnflag = 'R'))   [clears validity bits]
9. project(8): project customer.c_custkey, customer.c_name, customer.c_acctbal, customer.c_phone, nation.n_name, customer.c_address, customer.c_comment, (lineitem.l_extendedprice * (1 - lineitem.l_discount)) AS arg#1
10. aggregate(9): aggregate SUM(arg#1) AS sum#2 GROUP BY customer.c_custkey, customer.c_name, customer.c_acctbal, customer.c_phone, nation.n_name, customer.c_address, customer.c_comment   [sort + segmented scans]
11. project(10): project customer.c_custkey AS c_custkey, customer.c_name AS c_name, sum#2 AS revenue, customer.c_acctbal AS c_acctbal, nation.n_name AS n_name, customer.c_address AS c_address, customer.c_phone AS c_phone, customer.c_comment AS c_comment
12. order by … limit(11): order by revenue DESC LIMIT 20   [oblivious sort]
