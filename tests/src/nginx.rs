//! deploy/nginx.conf run for real on loopback ports, without TLS (the tests have no
//! certificate), in its own prefix directory, in front of one or two chat-server instances.

use std::time::Duration;

use crate::server::{free_port, temp_dir, workspace_root};

/// A running nginx with deploy/nginx.conf; stopped when dropped.
pub struct Nginx {
    child: std::process::Child,
    pub port: u16,
    /// `-p DIR -c DIR/nginx.conf`, to stop it the way it wants (SIGKILL would leave workers).
    args: [String; 4],
}

impl Nginx {
    /// nginx in front of `instances` (one, or two with the file's cluster lines turned on).
    pub fn start(instances: &[u16]) -> Self {
        let dir = temp_dir("nginx");
        let port = free_port();
        let site = std::fs::read_to_string(workspace_root().join("deploy/nginx.conf"))
            .expect("read deploy/nginx.conf");
        let mut site = site
            .replace("server 127.0.0.1:3000;", &format!("server 127.0.0.1:{};", instances[0]))
            .replace("listen 443 ssl http2;", &format!("listen 127.0.0.1:{port};"))
            .replace("listen [::]:443 ssl http2;", "");
        if let Some(second) = instances.get(1) {
            site = site
                .replace("# ip_hash;", "ip_hash;")
                .replace("# server 127.0.0.1:3001;", &format!("server 127.0.0.1:{second};"));
        }
        // Without TLS: the redirecting server and the certificate lines go.
        let redirect = site.find("server {\n    listen 80;").expect("the port-80 server");
        let end = redirect + site[redirect..].find("}\n").expect("its end") + 2;
        site.replace_range(redirect..end, "");
        site = site.lines().filter(|l| !l.trim_start().starts_with("ssl_")).collect::<Vec<_>>().join("\n");
        let d = dir.display();
        let main = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/chat.conf;\n}}\n"
        );
        std::fs::write(dir.join("chat.conf"), site).expect("write the site");
        std::fs::write(dir.join("nginx.conf"), main).expect("write nginx.conf");
        let conf = dir.join("nginx.conf");
        let args = ["-p".to_owned(), d.to_string(), "-c".to_owned(), conf.display().to_string()];
        let child = std::process::Command::new("nginx")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nginx (the README's test command installs it)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not start: {:?}",
                std::fs::read_to_string(dir.join("error.log"))
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, args }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let stopped = std::process::Command::new("nginx").args(&self.args).args(["-s", "stop"]).status();
        if !stopped.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
