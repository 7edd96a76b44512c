with per as (select o_custkey, sum(o_totalprice) as s from orders group by o_custkey)
select a.o_custkey, a.s, b.s as s2 from per a join per b on a.o_custkey = b.o_custkey
-- plan:
1. scan: scan orders AS orders   lanes orders.o_custkey content, orders.o_totalprice key
2. aggregate(1): aggregate SUM(orders.o_totalprice) AS sum#1 GROUP BY orders.o_custkey   [sort + segmented scans]
3. project(2): project orders.o_custkey AS o_custkey, sum#1 AS s
4. project(3): project o_custkey AS a.o_custkey, s AS a.s
5. project(3): project o_custkey AS b.o_custkey, s AS b.s
6. join(4, 5): inner join ON a.o_custkey = b.o_custkey   [oblivious sort-based PK–FK join]   pk right: right side unique on the join key
7. project(6): project a.o_custkey AS o_custkey, a.s AS s, b.s AS s2
