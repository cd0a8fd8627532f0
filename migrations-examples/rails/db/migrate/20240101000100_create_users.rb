class CreateUsers < ActiveRecord::Migration[7.1]
  def change
    create_table :users do |t|
      t.string :email
      t.string :name, null: false
      t.text :bio
      t.string :legacy
      t.string :old
      t.boolean :admin, default: false, null: false
      t.timestamps
    end
  end
end
