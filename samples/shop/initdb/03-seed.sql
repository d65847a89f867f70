-- A small first dataset; `make seed ROWS=...` replaces it with any size.
select sample_gen.seed(orders => 1000);
