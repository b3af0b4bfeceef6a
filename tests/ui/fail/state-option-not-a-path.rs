use msk_lambda::{msk_handler, Json, Record};

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

struct Clients;

async fn init() -> Result<Clients, msk_lambda::Error> {
    Ok(Clients)
}

// The option's value is wrong; the state parameter is not reported as well.
#[msk_handler(state = "init")]
async fn handle(record: Record<Json<Order>>, _clients: &Clients) -> Result<(), msk_lambda::Error> {
    let _ = (record.value().id, init);
    Ok(())
}
