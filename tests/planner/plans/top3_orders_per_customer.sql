select * from (
  select o_custkey, o_orderkey, o_totalprice,
         row_number() over (partition by o_custkey order by o_totalprice desc, o_orderkey) as rn,
         o_totalprice - lag(o_totalprice, 1, 0) over (partition by o_custkey order by o_totalprice desc, o_orderkey) as step
  from orders
) as t where rn <= 3
-- plan:
1. scan: scan orders AS orders   lanes orders.o_orderkey content, orders.o_custkey content, orders.o_totalprice content
2. project(1): project orders.o_orderkey, orders.o_custkey, orders.o_totalprice, 0 AS w#4
3. window(2): window ROW_NUMBER() AS row_number#2, LAG(orders.o_totalprice, 1, w#4) AS lag#5 OVER (PARTITION BY orders.o_custkey ORDER BY orders.o_totalprice DESC, orders.o_orderkey)   [sort + segmented scans]
4. project(3): project orders.o_custkey AS o_custkey, orders.o_orderkey AS o_orderkey, orders.o_totalprice AS o_totalprice, row_number#2 AS rn, (orders.o_totalprice - lag#5) AS step
5. project(4): project o_custkey AS t.o_custkey, o_orderkey AS t.o_orderkey, o_totalprice AS t.o_totalprice, rn AS t.rn, step AS t.step
6. filter(5): filter (t.rn <= 3)   [clears validity bits]
7. project(6): project t.o_custkey AS o_custkey, t.o_orderkey AS o_orderkey, t.o_totalprice AS o_totalprice, t.rn AS rn, t.step AS step
