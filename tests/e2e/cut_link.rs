//! A TCP link to a real server that a test can cut and restore: what the service sees when its
//! database goes away (open connections reset, new ones closed at once) and comes back.

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

pub struct CutLink {
    pub port: u16,
    up: watch::Sender<bool>,
}

impl CutLink {
    /// Forwards a local port to `target` (`host:port`) until cut.
    pub async fn to(target: &str) -> CutLink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        let (up, watcher) = watch::channel(true);
        let target = target.to_owned();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut up = watcher.clone();
                if !*up.borrow() {
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = up.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        CutLink { port, up }
    }

    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}
