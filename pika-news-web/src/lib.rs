//! pika-news-web (being built).
