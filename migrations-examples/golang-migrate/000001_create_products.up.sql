CREATE TABLE products (
    id          bigserial PRIMARY KEY,
    sku         text          NOT NULL,
    name        text          NOT NULL,
    price       numeric(10,2) NOT NULL,
    created_at  timestamptz   NOT NULL DEFAULT now()
);
