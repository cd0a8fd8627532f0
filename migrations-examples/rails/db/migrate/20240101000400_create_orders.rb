class CreateOrders < ActiveRecord::Migration[7.1]
  def change
    create_table :orders do |t|
      t.bigint :user_id, null: false
      t.bigint :product_id
      t.integer :quantity, default: 1, null: false
      t.string :state, default: "new"
      t.timestamps
    end
  end
end
