CREATE TABLE warehouses (
    id    serial PRIMARY KEY,
    code  text NOT NULL UNIQUE,
    city  text NOT NULL
);

CREATE TABLE stock (
    warehouse_id integer NOT NULL REFERENCES warehouses (id),
    product_id   bigint  NOT NULL REFERENCES products (id),
    quantity     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (warehouse_id, product_id)
);
