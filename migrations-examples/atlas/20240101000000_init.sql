CREATE TABLE "orders" (
  "id" bigserial NOT NULL,
  "total" numeric NOT NULL,
  PRIMARY KEY ("id")
);
