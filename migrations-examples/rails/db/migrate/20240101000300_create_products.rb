class CreateProducts < ActiveRecord::Migration[7.1]
  def change
    create_table :products do |t|
      t.string :sku, null: false, index: { unique: true }
      t.decimal :price, precision: 10, scale: 2
      t.references :category, null: false, foreign_key: true
      t.timestamps
    end
    add_index :products, :price
  end
end
